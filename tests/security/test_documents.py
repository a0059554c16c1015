"""Documents a citizen sends (WhatsApp): the copy we keep carries the content, not its author (issue 17).

A PDF from a word processor says who wrote it in its Info dictionary and XMP; a .docx or .odt in its
document-properties part. For an anonymous reporter that is their name."""

from __future__ import annotations

import io
import zipfile

import pikepdf
import pytest

from shared import documents

AUTHOR, COMPANY = "Siti Rahayu Wulandari", "CV Maju Jaya Kediri"
XMP_NS = "http://purl.org/dc/elements/1.1/"


def _pdf(**save: object) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.pages[0].Contents = pdf.make_stream(b"BT /F1 12 Tf 72 720 Td (Jalan berlubang) Tj ET")
    pdf.docinfo["/Author"] = AUTHOR
    pdf.docinfo["/Producer"] = COMPANY
    with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
        xmp["dc:creator"] = [AUTHOR]
    pdf.pages[0].obj["/Metadata"] = pdf.make_stream(f"<x:xmpmeta>{AUTHOR}</x:xmpmeta>".encode())
    out = io.BytesIO()
    pdf.save(out, **save)
    return out.getvalue()


def _identifies(data: bytes) -> bool:
    return AUTHOR.encode() in data or COMPANY.encode() in data or AUTHOR.encode("utf-16-be") in data


async def test_a_pdf_keeps_its_pages_and_loses_its_author():
    sent = _pdf(compress_streams=False)
    assert _identifies(sent)  # what a word processor writes
    kept = await documents.without_metadata(sent, documents.PDF)
    assert kept is not None and not _identifies(kept)
    with pikepdf.open(io.BytesIO(kept)) as pdf:
        assert "/Info" not in pdf.trailer and "/Metadata" not in pdf.Root
        assert len(pdf.pages) == 1 and "/Metadata" not in pdf.pages[0].obj
        assert pdf.pages[0].Contents.read_bytes() == b"BT /F1 12 Tf 72 720 Td (Jalan berlubang) Tj ET"


async def test_a_pdf_with_compressed_object_streams_is_cleaned_too():
    """Metadata inside compressed object streams is invisible to a byte search: read it back to check."""
    kept = await documents.without_metadata(_pdf(object_stream_mode=pikepdf.ObjectStreamMode.generate),
                                            documents.PDF)
    assert kept is not None
    with pikepdf.open(io.BytesIO(kept)) as pdf:
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.String):
                assert AUTHOR not in str(obj)
            if isinstance(obj, pikepdf.Stream):
                assert AUTHOR.encode() not in obj.read_bytes()


async def test_a_pdf_locked_with_a_password_or_not_a_pdf_is_refused():
    locked = _pdf(encryption=pikepdf.Encryption(user="rahasia", owner="rahasia"))
    assert await documents.without_metadata(locked, documents.PDF) is None
    assert await documents.without_metadata(b"%PDF-1.7\n" + b"\x00" * 200, documents.PDF) is None


def _office(parts: dict[str, bytes], first: str | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        if first:
            z.writestr(zipfile.ZipInfo(first), parts.pop(first), compress_type=zipfile.ZIP_STORED)
        for name, content in parts.items():
            z.writestr(name, content, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"


async def test_a_word_document_keeps_its_body_and_loses_its_properties():
    body = b"<w:document><w:body><w:p><w:r><w:t>Saluran air tersumbat</w:t></w:r></w:p></w:body></w:document>"
    sent = _office({
        "[Content_Types].xml": b"<Types/>",
        "word/document.xml": body,
        "docProps/core.xml": f"<cp:coreProperties><dc:creator>{AUTHOR}</dc:creator></cp:coreProperties>".encode(),
        "docProps/app.xml": f"<Properties><Company>{COMPANY}</Company></Properties>".encode(),
        "docProps/custom.xml": f"<Properties><property>{AUTHOR}</property></Properties>".encode(),
    })
    assert documents.cleans(DOCX)
    kept = await documents.without_metadata(sent, DOCX)
    assert kept is not None
    with zipfile.ZipFile(io.BytesIO(kept)) as z:
        assert z.namelist() == ["[Content_Types].xml", "word/document.xml", "docProps/core.xml",
                                "docProps/app.xml", "docProps/custom.xml"]
        assert z.read("word/document.xml") == body
        every_part = b"".join(z.read(name) for name in z.namelist())
    assert not _identifies(every_part)


async def test_an_opendocument_stays_valid_and_loses_its_meta():
    sent = _office({"mimetype": ODT.encode(), "content.xml": b"<office:text>Sampah menumpuk</office:text>",
                    "meta.xml": f"<office:meta><meta:initial-creator>{AUTHOR}</meta:initial-creator>"
                                f"</office:meta>".encode()}, first="mimetype")
    kept = await documents.without_metadata(sent, ODT)
    assert kept is not None
    with zipfile.ZipFile(io.BytesIO(kept)) as z:
        first = z.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED  # as ODF requires
        assert z.read("content.xml") == b"<office:text>Sampah menumpuk</office:text>"
        assert AUTHOR.encode() not in z.read("meta.xml")


async def test_a_zip_bomb_or_a_non_zip_is_refused(monkeypatch):
    monkeypatch.setattr(documents, "MAX_UNPACKED_BYTES", 1_000_000)
    bomb = _office({"word/document.xml": b"\x00" * 2_000_000})
    assert len(bomb) < 10_000
    assert await documents.without_metadata(bomb, DOCX) is None
    assert await documents.without_metadata(b"PK\x03\x04 not really", DOCX) is None


@pytest.mark.parametrize("mime", ["audio/ogg", "video/mp4", "text/plain", "application/zip"])
def test_other_types_are_not_claimed_as_cleaned(mime):
    assert not documents.cleans(mime)
