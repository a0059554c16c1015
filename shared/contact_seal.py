"""A citizen's contact, sealed so that only the notifier can read it.

The intakes hear the citizen and the notifier answers them; nothing between needs their number, e-mail
or WhatsApp id. So the intakes seal the contact (libsodium's sealed box: X25519 + XSalsa20-Poly1305, an
ephemeral key per message) with the notifier's public key, and the router, lapor_sync, the web intake's
status page, every topic, table and dead letter carry only the sealed text. Only the notifier holds the
private key. A unit still sees the identity of a reporter who allowed it (`ComplaintAssigned.reporter_for_unit`).

Keys: ADUAN_CONTACT_PUBLIC_KEY (intakes), ADUAN_CONTACT_PRIVATE_KEYS (the notifier: comma-separated,
the newest first; an older key stays until nothing sealed with it is still open, docs/security.md).
New pair: `python -m shared.contact_seal new-key`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import sys

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox

VERSION = "v1"
PUBLIC_KEY_ENV = "ADUAN_CONTACT_PUBLIC_KEY"
PRIVATE_KEYS_ENV = "ADUAN_CONTACT_PRIVATE_KEYS"


class ContactKeyMissing(RuntimeError):
    """A service that seals or opens contacts was started without its key: it must not start."""


class ContactUnreadable(ValueError):
    """Sealed text that no key here opens, or that is not a sealed contact at all."""


def _key_id(public: PublicKey) -> str:
    return hashlib.sha256(bytes(public)).hexdigest()[:8]


def _decode_key(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError as error:
        raise ContactKeyMissing(f"{what} is not base64") from error
    if len(raw) != 32:
        raise ContactKeyMissing(f"{what} must be 32 bytes, is {len(raw)}")
    return raw


@functools.cache
def public_key() -> PublicKey:
    configured = os.environ.get(PUBLIC_KEY_ENV, "")
    if not configured:
        raise ContactKeyMissing(f"{PUBLIC_KEY_ENV} is not set: citizens' contacts cannot be sealed")
    return PublicKey(_decode_key(configured, PUBLIC_KEY_ENV))


@functools.cache
def private_keys() -> dict[str, SealedBox[PrivateKey]]:
    configured = [part for part in os.environ.get(PRIVATE_KEYS_ENV, "").split(",") if part.strip()]
    if not configured:
        raise ContactKeyMissing(f"{PRIVATE_KEYS_ENV} is not set: citizens cannot be answered")
    keys = [PrivateKey(_decode_key(part, PRIVATE_KEYS_ENV)) for part in configured]
    return {_key_id(key.public_key): SealedBox(key) for key in keys}


def seal(contact_json: str) -> str:
    """`v1.<key id>.<base64url>`: the key id tells the notifier which of its keys opens it."""
    key = public_key()
    box = SealedBox(key).encrypt(contact_json.encode())
    return f"{VERSION}.{_key_id(key)}.{base64.urlsafe_b64encode(box).decode()}"


def open_sealed(sealed: str) -> str:
    """The contact's JSON, as sealed."""
    version, _, rest = sealed.partition(".")
    key_id, _, body = rest.partition(".")
    if version != VERSION or not body:
        raise ContactUnreadable("not a sealed contact")
    box = private_keys().get(key_id)
    if box is None:
        raise ContactUnreadable(f"sealed with key {key_id}, which is not among the notifier's keys")
    try:
        return box.decrypt(base64.urlsafe_b64decode(body)).decode()
    except (CryptoError, ValueError) as error:
        raise ContactUnreadable(f"sealed contact does not open with key {key_id}: {type(error).__name__}") from error


def new_key_pair() -> tuple[str, str]:
    """(public, private), base64."""
    key = PrivateKey.generate()
    return base64.b64encode(bytes(key.public_key)).decode(), base64.b64encode(bytes(key)).decode()


if __name__ == "__main__":
    if sys.argv[1:] != ["new-key"]:
        sys.exit("usage: python -m shared.contact_seal new-key")
    public, private = new_key_pair()
    print(f"{PUBLIC_KEY_ENV}={public}\n{PRIVATE_KEYS_ENV}={private}")
