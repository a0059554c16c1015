"""Properties of the text parsers and normalisers: complaint text, routing rules, the SMS
keyword, clean_text, log masking. Each holds for every input, not only the examples in the
other unit tests; hypothesis shrinks a counterexample to its smallest form.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
import yaml
from hypothesis import assume, example, given
from hypothesis import strategies as st

from services.intake.sms.keyword import complaint_text, reply_to_response, status_check
from services.router.routing.normalise import SMS_ABBREVIATIONS, normalise, strip_keyword
from services.router.routing.rules import DEFAULT_RULES_FILE, load_ruleset, term_pattern
from shared.channel_kit import InvalidText, clean_text
from shared.contracts import normalise_tracking_code, tracking_code_for
from shared.logging import PERSONAL_KEYS, mask_personal_data, mask_text
from tests.support.properties import WORDS, any_text, separators, written_phone
from tests.support.properties import complaint_text as complaint_like

RULESET = load_ruleset()

# ------------------------------------------------------------------------------------------ normalise


@given(any_text)
@example("diminta Rp 1,000,000")  # English digit grouping: once a crash that stalled the router
@example("Rp " + "9" * 400)  # once an OverflowError (float infinity)
@example("rp " + "9" * 5000)  # past int's 4,300-digit str() limit
def test_normalise_never_crashes_and_gives_lower_case_words(text):
    out = normalise(text)
    assert out == out.strip() and "  " not in out
    # Only word characters and single spaces: the rules match on words.
    assert all(re.fullmatch(r"\w+", word) and "_" not in word for word in out.split())
    assert out == out.lower()


@given(any_text)
@example("100 ribuuu")  # emphasis on the unit hid the money the first time
@example("bu.wali")  # punctuation between "bu" and "wali" hid the mayor the first time
@example("SURGA surga lampu")  # the keyword typed twice
@example("rp, 5")
@example("rp rp 5")
def test_normalise_is_idempotent(text):
    # Normalised text is already normal: a rule term, normalised the same way, means the same.
    once = normalise(text)
    assert normalise(once) == once


@given(st.sampled_from(["SURGA", "surga", "Surga", "SuRgA"]), separators, any_text)
def test_keyword_at_the_start_is_not_part_of_the_text(keyword, sep, rest):
    assume(not re.match(r"[\W_]*surga", rest.lower()))  # "surga" typed twice: both go
    assume(not re.match(r"[a-z]", rest.lower()))  # "surgawi" is a word, not the keyword
    assert normalise(f"{keyword}{sep}{rest}") == normalise(rest)


@given(st.integers(min_value=1, max_value=999_999),
       st.sampled_from([("rb", 1_000), ("ribu", 1_000), ("k", 1_000), ("jt", 1_000_000), ("juta", 1_000_000),
                        ("miliar", 1_000_000_000)]),
       st.sampled_from(["", " "]))
def test_money_with_a_unit_is_rupiah(amount, unit, space):
    name, factor = unit
    assert normalise(f"minta {amount}{space}{name} ya") == f"minta {amount * factor} rupiah ya"


@given(st.integers(min_value=1, max_value=10**12), st.sampled_from(["Rp", "rp", "Rp.", "RP "]))
def test_rupiah_amounts_in_any_digit_grouping_are_the_same_amount(amount, rp):
    indonesian = f"{amount:,}".replace(",", ".")  # 1.500.000
    english = f"{amount:,}"  # 1,500,000 (phones and spreadsheets write it so)
    expected = f"bayar {amount} rupiah"
    assert normalise(f"bayar {rp}{indonesian}") == expected
    assert normalise(f"bayar {rp}{english}") == expected
    assert normalise(f"bayar {rp}{amount}") == expected


@given(st.integers(min_value=1, max_value=99), st.integers(min_value=1, max_value=9), st.sampled_from([",", "."]))
def test_decimal_amounts_with_a_unit(whole, tenth, mark):
    # "1,5jt" (Indonesian decimal comma) and "1.5jt" (as typed on phones) are both 1.5 million.
    assert normalise(f"{whole}{mark}{tenth}jt") == f"{whole * 1_000_000 + tenth * 100_000} rupiah"


@given(st.integers(min_value=0, max_value=99999))
def test_plain_numbers_are_not_money(number):
    assert normalise(f"rt {number} tahun") == f"rt {number} tahun"


@given(st.sampled_from(sorted(SMS_ABBREVIATIONS)), complaint_like)
def test_abbreviations_are_spelled_out_wherever_they_are(short, rest):
    words = normalise(f"{rest} {short}").split()
    assert words[-len(SMS_ABBREVIATIONS[short].split()):] == SMS_ABBREVIATIONS[short].split()


@given(any_text)
def test_strip_keyword_removes_at_most_a_prefix(text):
    stripped = strip_keyword(text)
    assert text.endswith(stripped)
    if stripped != text:
        assert "surga" in text[: len(text) - len(stripped)].lower()


# ------------------------------------------------------------------------------------------ rules


def _rule_terms() -> list[str]:
    """Every word or phrase the shipped rules name (not the regex patterns)."""
    data = yaml.safe_load(DEFAULT_RULES_FILE.read_text())
    terms = []
    for rule in data["rules"]:
        for field in ("any", "all", "none"):
            for entry in rule.get(field) or []:
                terms.extend(part.strip() for part in str(entry).split("|"))
    return sorted(set(terms))


TERMS = _rule_terms()
routing_text = st.lists(st.one_of(st.sampled_from(TERMS), st.sampled_from(WORDS), any_text), max_size=8).map(
    " ".join)
channels = st.sampled_from(["web", "sms", "whatsapp"])


@given(routing_text, channels, st.one_of(st.none(), st.text(max_size=20)))
@example("diminta Rp 1,000,000 untuk tanda tangan", "sms", None)
def test_routing_never_crashes_and_is_deterministic(text, channel, category):
    first = RULESET.route(text, channel, category)
    again = RULESET.route(text, channel, category)
    assert (first.unit, first.rule_id, first.matched_terms) == (again.unit, again.rule_id, again.matched_terms)
    assert first.is_fallback == (first.rule_id == "fallback")


@given(routing_text, channels)
def test_first_matching_rule_decides(text, channel):
    decision = RULESET.route(text, channel)
    normalised = normalise(text)
    rule_ids = [rule.id for rule in RULESET.rules]
    position = rule_ids.index(decision.rule_id) if not decision.is_fallback else len(rule_ids)
    # No earlier rule matches; the deciding rule does, and names only terms that are in the text.
    assert all(rule.match(normalised, channel, None) is None for rule in RULESET.rules[:position])
    if not decision.is_fallback:
        rule = RULESET.rules[position]
        assert decision.unit.code == rule.unit
        own_terms = {term for term, _ in rule.any + rule.all}
        assert decision.matched_terms and set(decision.matched_terms) <= own_terms
        patterns = dict(rule.any + rule.all)
        assert all(patterns[term].search(normalised) for term in decision.matched_terms)
        # Its 'none' terms are absent, each checked on its own (not through the combined regex).
        assert not any(pattern.search(normalised) for _, pattern in rule.none)


@given(st.sampled_from(TERMS), st.lists(st.sampled_from(WORDS + TERMS), max_size=4),
       st.lists(st.sampled_from(WORDS + TERMS), max_size=4), st.sampled_from([" ", ", ", ". ", "\n", " - "]))
def test_a_rule_term_matches_itself_in_any_sentence(term, before, after, sep):
    # "Write the word the normal way; the same normalisation applies to the rule" (rules.yaml).
    pattern = term_pattern(term)
    written = term.strip("*")
    text = sep.join([*before, written, *after])
    assert pattern.search(normalise(text)), (term, text, normalise(text))


# ------------------------------------------------------------------------------------------ SMS keyword


keyword = st.builds(lambda word, case: "".join(c.upper() if u else c for c, u in zip(word, case, strict=True)),
                    st.just("surga"), st.lists(st.booleans(), min_size=5, max_size=5))


@given(st.text(" \t\n", max_size=3), keyword, st.text(" .,:;-_!\n", max_size=4), any_text)
@example("", "SURGA", "_", "lampu mati")
def test_sms_keyword_in_any_case_and_punctuation_gives_the_rest(lead, kw, sep, rest):
    found = complaint_text(f"{lead}{kw}{sep}{rest}")
    if not sep and re.match(r"[^\W_]", rest):
        assert found is None  # "SURGAWI ..." is a word, not the keyword
    else:
        assert found == (re.sub(r"^[\s\W_]*", "", rest).strip() or None)


@given(any_text)
def test_sms_without_the_keyword_first_is_not_a_complaint(text):
    assume(not re.match(r"\s*surga\b", text, re.IGNORECASE))
    assert complaint_text(text) is None


@given(any_text)
def test_sms_complaint_text_is_a_stripped_suffix(text):
    found = complaint_text(text)
    assert found is None or (found == found.strip() and found and text.rstrip().endswith(found))


@given(any_text)
def test_status_check_parsing_never_crashes_and_reads_only_real_codes(text):
    check = status_check(text)
    if check is not None:
        assert re.match(r"cek", text, re.IGNORECASE)
        assert check.code == normalise_tracking_code(check.typed)


@given(st.uuids().map(str), st.sampled_from(["CEK", "cek", "Cek"]), st.sampled_from([" ", ": ", ", ", "  ", "-"]),
       st.sampled_from([str.lower, str.upper, lambda c: c.replace("-", ""), lambda c: c.replace("-", " "),
                        lambda c: c.replace("0", "O").replace("1", "I")]))
def test_surga_cek_with_a_code_typed_any_way_finds_that_code(complaint_id, cek, sep, typed):
    code = tracking_code_for(complaint_id)
    sms = f"SURGA {cek}{sep}{typed(code)}"
    check = status_check(complaint_text(sms) or "")
    assert check is not None and check.code == code


@given(st.sampled_from(["lampu jalan mati", "cekat sekali jalannya", "cekung jalannya", "cek lampu jalan mati"]))
def test_complaints_that_start_like_cek_stay_complaints(text):
    # "cek lampu jalan mati" asks to check the lamps: words, no digit, so not a status check.
    assert status_check(text) is None


@given(any_text)
def test_reply_parsing_never_crashes_and_reads_only_real_codes(text):
    reply = reply_to_response(text)
    if reply is not None:
        assert re.match(r"balas", text, re.IGNORECASE)
        assert reply.code == normalise_tracking_code(reply.typed) if reply.typed else reply.code is None
        assert reply.text == reply.text.strip() and reply.text in text


@given(st.uuids().map(str), st.sampled_from(["BALAS", "balas", "Balas"]), st.sampled_from([" ", ": ", ", ", "  "]),
       st.sampled_from([str.lower, str.upper, lambda c: c.replace("-", ""), lambda c: c.replace("-", " ")]),
       st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=200))
def test_surga_balas_with_a_code_typed_any_way_keeps_the_code_and_the_whole_reply(complaint_id, balas, sep, typed,
                                                                                  words):
    code = tracking_code_for(complaint_id)
    reply = reply_to_response(complaint_text(f"SURGA {balas}{sep}{typed(code)} {words}") or "")
    assert reply is not None and reply.code == code
    assert reply.text == words.strip() or words.strip().endswith(reply.text)  # leading punctuation may go


# ------------------------------------------------------------------------------------------ clean_text


@given(st.text(max_size=400), st.integers(min_value=1, max_value=500))
@example("e\u200b\u0301", 10)  # a format character between a letter and its accent
def test_clean_text_is_visible_nfc_text_within_the_limit(text, limit):
    try:
        cleaned = clean_text(text, limit)
    except InvalidText as error:
        assert error.reason in ("empty_text", "text_too_long")
        return
    assert cleaned and cleaned == cleaned.strip() and len(cleaned) <= limit
    assert "\r" not in cleaned
    assert all(ch in "\n\t" or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn"} for ch in cleaned)
    assert unicodedata.is_normalized("NFC", cleaned)
    assert clean_text(cleaned, limit) == cleaned  # cleaning twice changes nothing


@given(st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs"]), max_size=50))
def test_clean_text_refuses_what_has_nothing_visible(text):
    with pytest.raises(InvalidText):
        clean_text(text)


# ------------------------------------------------------------------------------------------ log masking

filler = st.lists(st.sampled_from([w for w in WORDS if not any(ch.isdigit() for ch in w)]), max_size=5).map(" ".join)
around = st.sampled_from([" ", ": ", ", ", " (", "\n", " wa ", "=", "/"])
emails = st.builds(lambda local, domain, tld: f"{local}@{domain}.{tld}",
                   st.text("abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=2, max_size=20).filter(
                       lambda s: s[0].isalnum()),
                   st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=2, max_size=15).filter(
                       lambda s: s[0].isalnum()),
                   st.sampled_from(["id", "com", "go.id", "co.id", "net"]))
names = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz '", min_size=2, max_size=40).filter(
    lambda s: len(s.strip()) >= 2)


def _leaves(value: object) -> list[str]:
    """Every value a log line would show, however deep."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _leaves(item)]
    return [str(value)]


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


@given(filler, around, written_phone(), around, filler)
@example("hubungi", " (", ("(0354) 682955", "+62354682955"), ") ", "kantor")
def test_a_phone_number_in_free_text_never_survives_masking(left, sep1, phone, sep2, right):
    written, _ = phone
    text = f"{left}{sep1}{written}{sep2}{right}"
    masked = mask_text(text)
    assert written not in masked
    # At most the first five and last two digits stay readable, never the subscriber part.
    assert len(_digits(masked)) <= 7, masked


@given(filler, around, emails, around, filler)
def test_an_email_address_in_free_text_never_survives_masking(left, sep1, email, sep2, right):
    masked = mask_text(f"{left}{sep1}{email}{sep2}{right}")
    assert email not in masked and f"{email.partition('@')[0]}@" not in masked


@given(st.sampled_from(sorted(PERSONAL_KEYS)), st.one_of(names, emails, written_phone().map(lambda p: p[0])),
       st.sampled_from(["plain", "nested", "list", "tuple", "upper"]))
def test_personal_values_never_survive_in_a_log_line(key, value, shape):
    event = {
        "plain": {key: value},
        "upper": {key.upper(): value},
        "nested": {"detail": {key: value}},
        "list": {"contacts": [{key: value}]},  # e.g. the contacts of one WhatsApp webhook
        "tuple": {"contacts": ({key: value},)},
    }[shape]
    assert all(value not in leaf for leaf in _leaves(mask_personal_data(None, "info", dict(event))))


@given(st.text(max_size=200))
def test_masking_never_crashes_and_leaves_text_without_personal_data_alone(text):
    assume("@" not in text and sum(ch.isdigit() for ch in text) < 6)
    # Also masked on purpose: query strings (URL paths with "?"), URL-encoding, and what reads as a BSUID.
    assume("%" not in text and "?" not in text and not re.search(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{6}", text))
    assert mask_text(text) == text
