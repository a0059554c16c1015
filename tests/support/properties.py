"""Hypothesis settings and the strategies the property tests share.

The profile is loaded on import: no example database (nothing written into the repository),
no deadline (the machine is shared; a slow example is not a failure), bounded example counts.
Set HYPOTHESIS_PROFILE=aduan-thorough for a longer local run.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps caches (Unicode tables, constants) even without an example database: under
# .local/, which is ignored, never in the repository's top level.
set_hypothesis_home_dir(Path(__file__).resolve().parents[2] / ".local" / "hypothesis")
settings.register_profile("aduan", deadline=None, database=None, max_examples=200,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("aduan-thorough", parent=settings.get_profile("aduan"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "aduan"))

# Words of real complaints, SMS abbreviations, the keyword, money units: the generated text
# then hits the normaliser's special cases far more often than random characters would.
WORDS = ["lampu", "jalan", "mati", "rusak", "pak", "bu", "wali", "kota", "murid", "surga", "SURGA", "tdk",
         "yg", "ga", "minta", "uang", "rp", "Rp.", "rb", "ribu", "jt", "juta", "k", "miliar", "pungli",
         "sampah", "banjir", "kel", "kec", "walkot", "pajak", "imbalan", "lemooot", "tolonggg", "_", "maaf"]
PUNCTUATION = list(" .,:;!?-_/()'\"\n\t")

words = st.sampled_from(WORDS)
numbers = st.integers(min_value=0, max_value=10**7).map(str)
separators = st.lists(st.sampled_from(PUNCTUATION), min_size=1, max_size=3).map("".join)
# Complaint-like text: words, numbers and punctuation in any order, any case.
complaint_text = st.lists(st.one_of(words, numbers, separators, st.text(max_size=5)), max_size=20).map(
    "".join)
any_text = st.one_of(complaint_text, st.text(max_size=300))

# Indonesian mobile numbers: 08 + 8..11 digits (national significant number 8xx...).
_mobile_nsn = st.builds(lambda second, rest: f"8{second}{rest}", st.sampled_from("123578"),
                        st.text("0123456789", min_size=7, max_size=10))


@st.composite
def written_phone(draw) -> tuple[str, str]:
    """(how a person writes it, the E.164 form): 081234567890, 62812..., +62 812-3456-7890."""
    nsn = draw(_mobile_nsn)
    prefix = draw(st.sampled_from(["0", "62", "+62", "+62 "]))
    sep = draw(st.sampled_from(["", " ", "-", "."]))
    # 0812-3456-7890(1): the way numbers are printed and typed.
    return prefix + sep.join([nsn[:3], nsn[3:7], nsn[7:]]), f"+62{nsn}"
