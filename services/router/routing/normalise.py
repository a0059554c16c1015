"""Indonesian complaint text, normalised before rules are matched. Pure functions.

The same function normalises the rule terms, so a term is written the way a person
would write it ("tidak", "100 ribu") and still matches "tdk" or "100rb" in an SMS.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal

# The SMS keyword and its lenient variants at the start: "SURGA x", "surga: x", "Surga.x".
# Typed twice ("SURGA surga x") both go, so normalised text never starts with the keyword.
_KEYWORD = re.compile(r"^(?:[\W_]*surga(?![a-z]))+[\W_]*", re.IGNORECASE)
# Runs of three or more of one letter are emphasis ("lemooot", "tolonggg"); pairs are spelling ("maaf").
_ELONGATED = re.compile(r"([a-z])\1{2,}")
# Money: "100rb", "100 ribu", "1,5jt", "2 juta", "Rp 50.000", "Rp50rb", "Rp: 1,000,000".
# Any punctuation may stand between "Rp", the number and the unit: it is gone after normalising,
# so "rp, 5" must be money the first time as it would be the second ("rp 5").
# At most 8 "rp" in a row: an unbounded run made each of them a fresh start that rescanned all the others, and
# a 5,000-character "rp rp rp ..." complaint took half a second to route (quadratic); bounded, it is linear.
_MONEY = re.compile(
    r"\b((?:rp[^\w]*){1,8})?(\d+(?:[.,]\d+)*)[^\w]*(rb|ribu|rebu|k|jt|juta|miliar|milyar)?\b"
)
_EXPONENTS = {"rb": 3, "ribu": 3, "rebu": 3, "k": 3, "jt": 6, "juta": 6, "miliar": 9, "milyar": 9}
_NOT_WORD = re.compile(r"[^\w]+")
# "Bu Wali", "Pak Wali", "Mas Wali" is how people name the mayor; "wali murid" (a pupil's parent) is not.
_MAYOR = re.compile(r"\b(bu|ibu|pak|bapak|mas|mbak|gus|wakil)\s+wali\b(?!\s+(?:kota|murid|kelas|santri|nikah))")

# Common SMS and chat abbreviations, spelled out. Only unambiguous ones: "dr" (dari/dokter) is not.
SMS_ABBREVIATIONS = {
    "met": "selamat", "smg": "semoga", "sht": "sehat", "sll": "selalu",
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
    "pjk": "pajak", "dtg": "datang", "dipake": "dipakai", "pake": "pakai", "gabisa": "tidak bisa", "dibyr": "dibayar",
    "sdg": "sedang", "lbh": "lebih", "bgt": "banget", "bener": "benar", "dr": "dari",
    "mnt": "minta", "mnta": "minta", "pdhl": "padahal", "cpt": "cepat", "brp": "berapa", "trs": "terus",
    "kmrn": "kemarin", "skt": "sakit", "sblm": "sebelum", "stlh": "setelah", "tgl": "tanggal",
}


def strip_keyword(text: str) -> str:
    """The text without a leading SURGA keyword (in any case, with any punctuation)."""
    return _KEYWORD.sub("", text, count=1)


def _amount(digits: str) -> Decimal:
    """"50.000", "1,000,000", "1,5", "1.5", "50.000,00": a separator before exactly three digits
    groups thousands (either mark, as people type them); a last one before other counts is the
    decimal mark. Never fails: every digit string has one reading."""
    *head, last = re.split(r"[.,]", digits)
    if not head or len(last) == 3:
        return Decimal("".join([*head, last]))
    return Decimal(f"{''.join(head)}.{last}")


def _money(match: re.Match[str]) -> str:
    rupiah, digits, unit = match.group(1), match.group(2), (match.group(3) or "").lower()
    if not unit and not rupiah:
        return match.group(0)  # a plain number: a year, a house number
    # Decimal, not float: "Rp 999...9" (hundreds of digits) overflowed float and crashed the router.
    exact = Context(prec=len(digits) + 10)  # every digit kept, however long
    value = _amount(digits).scaleb(_EXPONENTS.get(unit, 0), exact).to_integral_value(ROUND_HALF_UP, exact)
    return f" {value:f} rupiah "


def normalise(text: str) -> str:
    """Lower case, no keyword, money as "<n> rupiah", no emphasis, no punctuation, abbreviations out.

    Idempotent: normalised text normalises to itself. Hence the order: emphasis goes first (so
    "ribuuu" is a unit and "surgaaa" the keyword) and the mayor is recognised on the final words
    (so "Bu.Wali" is "bu wali").
    """
    text = _ELONGATED.sub(r"\1", text.lower().replace("_", " "))
    text = _MONEY.sub(_money, strip_keyword(text))
    words = _NOT_WORD.sub(" ", text).split()
    return _MAYOR.sub(r"\1 wali kota", " ".join(SMS_ABBREVIATIONS.get(word, word) for word in words))
