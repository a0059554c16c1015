"""Indonesian complaint text, normalised before rules are matched. Pure functions.

The same function normalises the rule terms, so a term is written the way a person
would write it ("tidak", "100 ribu") and still matches "tdk" or "100rb" in an SMS.
"""

from __future__ import annotations

import re

# The SMS keyword and its lenient variants at the start: "SURGA x", "surga: x", "Surga.x".
_KEYWORD = re.compile(r"^\W*surga(?![a-z])\W*", re.IGNORECASE)
# Runs of three or more of one letter are emphasis ("lemooot", "tolonggg"); pairs are spelling ("maaf").
_ELONGATED = re.compile(r"([a-z])\1{2,}")
# Money: "100rb", "100 ribu", "1,5jt", "2 juta", "Rp 50.000", "Rp50rb".
_MONEY = re.compile(
    r"\b(rp\.?\s*)?(\d+(?:[.,]\d+)*)\s*(rb|ribu|rebu|k|jt|juta|miliar|milyar)?\b"
)
_MULTIPLIERS = {"rb": 1_000, "ribu": 1_000, "rebu": 1_000, "k": 1_000, "jt": 1_000_000,
                "juta": 1_000_000, "miliar": 1_000_000_000, "milyar": 1_000_000_000}
_NOT_WORD = re.compile(r"[^\w]+")
# "Bu Wali", "Pak Wali", "Mas Wali" is how people name the mayor; "wali murid" (a pupil's parent) is not.
_MAYOR = re.compile(r"\b(bu|ibu|pak|bapak|mas|mbak)\s+wali\b(?!\s+(?:kota|murid|kelas|santri|nikah))")

# Common SMS and chat abbreviations, spelled out. Only unambiguous ones: "dr" (dari/dokter) is not.
SMS_ABBREVIATIONS = {
    "yg": "yang", "tdk": "tidak", "tak": "tidak", "gak": "tidak", "ga": "tidak", "gk": "tidak",
    "nggak": "tidak", "enggak": "tidak", "utk": "untuk", "untk": "untuk", "sy": "saya", "sya": "saya",
    "aq": "aku", "dgn": "dengan", "dg": "dengan", "sdh": "sudah", "udh": "sudah", "udah": "sudah",
    "blm": "belum", "blum": "belum", "krn": "karena", "krna": "karena", "karna": "karena",
    "tp": "tapi", "tpi": "tapi", "jg": "juga", "sj": "saja", "aja": "saja", "bs": "bisa", "bsa": "bisa",
    "gmn": "bagaimana", "gimana": "bagaimana", "bgmn": "bagaimana", "knp": "kenapa", "kpn": "kapan",
    "dmn": "dimana", "hrs": "harus", "sm": "sama", "sampe": "sampai", "spt": "seperti", "skrg": "sekarang",
    "org": "orang", "orng": "orang", "pd": "pada", "dlm": "dalam", "bln": "bulan", "thn": "tahun",
    "hr": "hari", "jln": "jalan", "jl": "jalan", "kel": "kelurahan", "kec": "kecamatan",
    "pemkot": "pemerintah kota", "walkot": "wali kota", "walikota": "wali kota", "wakot": "wali kota",
    "wawali": "wakil wali kota", "pns": "asn", "mhn": "mohon", "tlg": "tolong", "trims": "terima kasih",
    "mksh": "terima kasih", "makasih": "terima kasih", "bnyk": "banyak", "byk": "banyak",
    "lg": "lagi", "lgi": "lagi", "klo": "kalau", "kalo": "kalau", "kl": "kalau", "dpt": "dapat",
    "sdg": "sedang", "lbh": "lebih", "bgt": "banget", "bener": "benar", "dr": "dari",
    "mnt": "minta", "mnta": "minta", "pdhl": "padahal", "cpt": "cepat", "brp": "berapa", "trs": "terus",
    "kmrn": "kemarin", "skt": "sakit", "sblm": "sebelum", "stlh": "setelah", "tgl": "tanggal",
}


def strip_keyword(text: str) -> str:
    """The text without a leading SURGA keyword (in any case, with any punctuation)."""
    return _KEYWORD.sub("", text, count=1)


def _money(match: re.Match[str]) -> str:
    rupiah, digits, unit = match.group(1), match.group(2), (match.group(3) or "").lower()
    if not unit and not rupiah:
        return match.group(0)  # a plain number: a year, a house number
    # Indonesian notation: "." groups thousands, "," is the decimal mark ("1,5jt", "Rp 50.000,00").
    value = float(digits.replace(".", "").replace(",", "."))
    return f" {round(value * _MULTIPLIERS.get(unit, 1))} rupiah "


def normalise(text: str) -> str:
    """Lower case, no keyword, money as "<n> rupiah", no emphasis, no punctuation, abbreviations out."""
    text = strip_keyword(text).lower()
    text = _MAYOR.sub(r"\1 wali kota", text)
    text = _MONEY.sub(_money, text)
    text = _ELONGATED.sub(r"\1", text)
    words = _NOT_WORD.sub(" ", text.replace("_", " ")).split()
    return " ".join(SMS_ABBREVIATIONS.get(word, word) for word in words)
