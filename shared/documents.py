"""Documents as we keep them: the content without who wrote it.

A PDF or an office file a citizen sends carries its author's name, company and editing history in its
metadata (PDF Info and XMP; OOXML docProps; ODF meta.xml). For a reporter who asked to stay anonymous that
is their name, so the copy we keep and show has it removed; the content is untouched.

- PDF: rewritten by qpdf (pikepdf) without the Info dictionary and without any XMP /Metadata stream or
  /PieceInfo (the document's and each page's or image's); only reachable objects are written, so earlier
  revisions of an incrementally saved file go too.
- OOXML (docx, xlsx, pptx) and ODF (odt, ods, odp): the zip is written again with the document-properties
  parts replaced by empty ones of the same kind (so Word and LibreOffice open it without complaint); every
  other part is copied byte for byte, in order ("mimetype" stays first and stored, as ODF requires).

Not removed: authors of comments and tracked changes inside an office document's body, and anything
inside media of other types (audio, video, archives), which are kept as sent.
"""

from __future__ import annotations

import asyncio
import io
import zipfile

import pikepdf

PDF = "application/pdf"
_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."
MAX_UNPACKED_BYTES = 256 * 1024 * 1024  # a 100 MB office file unpacks to a few times that; a zip bomb to far more

_EMPTY_PARTS = {
    "docprops/core.xml": b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                         b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
                         b'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"/>',
    "docprops/app.xml": b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                        b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
                        b'extended-properties"/>',
    "docprops/custom.xml": b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                           b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
                           b'custom-properties"/>',
    "meta.xml": b'<?xml version="1.0" encoding="UTF-8"?>\n'
                b'<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
                b'office:version="1.2"><office:meta/></office:document-meta>',
}
_DOCUMENT_METADATA = ("/Metadata", "/PieceInfo")


def cleans(mime_type: str) -> bool:
    """Whether documents of this type are kept without their metadata."""
    return mime_type == PDF or mime_type.startswith((_OOXML, _ODF))


def _pdf(data: bytes) -> bytes | None:
    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if "/Info" in pdf.trailer:
                del pdf.trailer["/Info"]
            for obj in pdf.objects:
                if isinstance(obj, (pikepdf.Dictionary, pikepdf.Stream)):
                    for key in _DOCUMENT_METADATA:
                        if key in obj:
                            del obj[key]
            out = io.BytesIO()
            pdf.save(out, fix_metadata_version=False, deterministic_id=True)  # no new XMP; an /ID from content
            return out.getvalue()
    except (pikepdf.PdfError, pikepdf.PasswordError, ValueError, OSError):
        return None  # not a PDF qpdf can read, or locked with a password we do not have


def _office(data: bytes) -> bytes | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as source:
            members = source.infolist()
            if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
                return None
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w") as cleaned:
                for member in members:
                    empty = _EMPTY_PARTS.get(member.filename.lower())
                    content = empty if empty is not None else source.read(member)
                    cleaned.writestr(member, content, compress_type=member.compress_type)
            return out.getvalue()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, ValueError, OSError, EOFError):
        return None  # not a zip, or one packed in a way zipfile cannot read


def _without_metadata(data: bytes, mime_type: str) -> bytes | None:
    return _pdf(data) if mime_type == PDF else _office(data)


async def without_metadata(data: bytes, mime_type: str) -> bytes | None:
    """The document without author metadata, or None when it cannot be read as the type it claims.
    Call only for types where cleans() is true."""
    return await asyncio.to_thread(_without_metadata, data, mime_type)
