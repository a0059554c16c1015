"""JSON logs through structlog, with personal data masked before anything is written.

Every log line of the process (ours, FastStream's, aiokafka's, uvicorn's) goes through the
same processors, so a phone number in a library's message is masked too.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys whose values identify a person. Matched case-insensitively on the last key segment.
PERSONAL_KEYS = {"name", "phone", "email", "sender", "from", "to", "msisdn", "reporter",
                 "citizen_contact", "reporter_for_unit", "wa_id", "profile_name",
                 # WhatsApp's business-scoped user ids (BSUID) and usernames identify a person as a number does
                 "user_id", "from_user_id", "channel_user_id", "username", "recipient", "recipient_id",
                 "recipient_user_id", "parent_user_id"}

# Keys that hold identifiers, never personal data: not scanned for phone-like digit runs.
IDENTIFIER_KEYS = {"complaint_id", "correlation_id", "event_id", "assignment_id", "message_id",
                   "tracking_code", "lapor_tracking_id", "topic", "group_id", "timestamp", "offset",
                   "partition", "ruleset_version", "rule_id", "logger", "level", "service"}

# Every pattern that sees untrusted text has bounded repetition: an unbounded `[\w.+-]+@` rescanned the rest
# of a 15,000-character path from each position (quadratic) and stalled the event loop for a second.
_EMAIL = re.compile(r"[\w.+-]{1,64}@(?:[\w-]{1,63}\.){1,8}[\w-]{1,63}")
# Indonesian mobile and landline numbers, local (08..) or international (+62 / 62), with separators;
# landlines also with the area code in brackets, as they are printed: "(0354) 682955".
_PHONE = re.compile(r"(?<![\w-])(?:(?:\+?62|0)[\s.-]?\d{2,4}|\(0\d{2,4}\))(?:[\s.-]?\d{2,4}){2,3}(?!\w)")
# A WhatsApp BSUID inside text (a Cloud API error echoing the recipient): "ID.13491208655302741918".
_BSUID = re.compile(r"(?<![\w.])[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{6,128}(?![\w.])")
# Any other long run of digits: a number abroad, a NIK (16 digits), a family card or bank account number.
# With spaces only after a "+": "2026-11-30 15:09" is a time, not a number.
_DIGITS = re.compile(r"(?<![\w.])(?:\+\d(?:[\s.-]?\d){8,24}|\d(?:[.-]?\d){8,24})(?![\w])")


def mask_phone(value: str) -> str:
    digits = "".join(ch for ch in value if ch.isdigit() or ch == "+")
    return f"{digits[:5]}***{digits[-2:]}" if len(digits) > 7 else "***"


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


_ENCODED = re.compile(r"%2[Bb0]")
_DECODED = {"%2B": "+", "%20": " "}


def without_query_strings(text: str) -> str:
    """URLs and paths without their query: an access log line of Kannel's get-url carries the SMS and its
    sender, the sendsms URL httpx logs carries Kannel's password, an inbox link its token."""
    if "?" not in text:
        return text
    return " ".join(word.split("?", 1)[0] + "?[query removed]" if "?" in word and "/" in word else word
                    for word in text.split(" "))


def mask_text(text: str) -> str:
    """Mask query strings, e-mail addresses, phone numbers, BSUIDs and long digit runs inside free text,
    also where they are URL-encoded (%2B6281...)."""
    text = without_query_strings(text)
    if "%" in text:  # numbers as URLs carry them: "%2B6281..." and "0812%203456"
        text = _ENCODED.sub(lambda m: _DECODED[m.group(0).upper()], text)
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    text = _BSUID.sub(lambda m: m.group(0)[:3] + "***", text)
    text = _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    return _DIGITS.sub(lambda m: mask_phone(m.group(0)), text)


def _mask_value(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key in PERSONAL_KEYS:
        if isinstance(value, str):
            if "@" in value.lstrip("@"):  # an address; a "@username" is masked below like a name
                return mask_email(value)
            if sum(ch.isdigit() for ch in value) >= 7:
                return mask_phone(value)
            return f"{value[:1]}***" if value else value
        return "***"  # structured identity (a Reporter, a dict): never written
    if key in IDENTIFIER_KEYS:
        return value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_value(str(k).lower(), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        # e.g. the contacts of a webhook: each item is masked as if it stood alone under this key
        return [_mask_value(key, item) for item in value]
    return value


def mask_personal_data(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event_dict.pop("color_message", None)  # uvicorn's ANSI-coloured duplicate of the message
    return {key: _mask_value(key.lower(), value) for key, value in event_dict.items()}


def configure_logging(service: str, level: str = "INFO") -> None:
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),  # FastStream puts topic, group and message id in `extra`
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared_processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            mask_personal_data,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO: a line per LAPOR! call, SMS and WhatsApp message, a tenth of the
    # delivering services' CPU (docs/performance.md); our own code logs what each call was for.
    for noisy in ("aiokafka", "kafka", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    structlog.contextvars.bind_contextvars(service=service)
