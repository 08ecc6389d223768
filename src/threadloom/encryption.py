"""Encryption at rest: keys, key ids and the sealed-value format.

A store opened with a key (``StateStore.open(..., encryption_key=...)`` or
``$THREADLOOM_ENCRYPTION_KEY``) seals message content and items, checkpoint states,
job details and goal objectives with AES-256-GCM from the ``cryptography`` package
(``pip install 'threadloom[encryption]'``). Keys are never stored: the database holds
only their ids (an HMAC of the key, so an id tells nothing about the key), to tell a
wrong key from data that is merely encrypted.

A sealed value is text: ``tlenc1:<key id>:<base64url(nonce | ciphertext | tag)>``. In
a JSON column (items, checkpoint states) it is stored as a JSON string holding that
text. The associated data binds the value to its column and key id, so a sealed value
copied into another column (or relabelled with another key id) fails authentication.

Nothing here imports ``cryptography`` until a value is sealed or opened:
``import threadloom`` never needs it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import EncryptedData, InvalidRecord, InvalidType, ThreadloomError

__all__ = [
    "ENV_VAR",
    "PREFIX",
    "Keyring",
    "generate_key",
    "is_sealed",
    "key_id",
    "keyring_from",
]

#: The environment variable holding the key(s), comma-separated, current key first.
ENV_VAR = "THREADLOOM_ENCRYPTION_KEY"
#: How every sealed value starts.
PREFIX = "tlenc1:"
_JSON_PREFIX = '"' + PREFIX
_NONCE = 12
# URL-safe base64 back to the standard alphabet, for binascii (base64.urlsafe_b64decode
# does the same through two Python-level calls per value).
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_INSTALL = "pip install 'threadloom[encryption]'"


def generate_key() -> str:
    """A new random 256-bit key, as 44 characters of URL-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def _key_bytes(key: object) -> bytes:
    if isinstance(key, bytes) and len(key) == 32:
        return key
    if isinstance(key, str | bytes):
        text = key.strip() if isinstance(key, str) else key.decode("ascii", "replace").strip()
        try:
            raw = base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raw = b""
        if len(raw) == 32:
            return raw
        raise InvalidRecord(
            "an encryption key is 32 bytes, or 44 characters of URL-safe base64 "
            "(make one with `threadloom encryption keygen`)"
        )
    raise InvalidType(f"an encryption key is a str or bytes, got {type(key).__name__}")


def key_id(key: bytes) -> str:
    """The id of a key: 16 hex digits of an HMAC under the key (reveals nothing of it)."""
    return hmac.new(key, b"threadloom key id v1", hashlib.sha256).hexdigest()[:16]


def is_sealed(text: str | None, *, json: bool = False) -> bool:
    """Whether a stored value (a column's text; ``json``: a JSON column's text) is sealed."""
    return text is not None and text.startswith(_JSON_PREFIX if json else PREFIX)


def _aesgcm() -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError as exc:
        raise ThreadloomError(
            f"encryption needs the cryptography package, which is not installed: {_INSTALL}"
        ) from exc
    return AESGCM


@dataclass(frozen=True, slots=True)
class _Key:
    id: str
    raw: bytes


class Keyring:
    """The keys of an encrypting store: the first seals, every one opens.

    Args:
        keys: Keys as :func:`generate_key` makes them (or 32 raw bytes), current first.
            Empty: the store cannot open or seal anything (every sealed value read
            raises :class:`EncryptedData`).

    Raises:
        InvalidRecord: A key is not 32 bytes.
        ThreadloomError: ``cryptography`` is not installed (keys given only).
    """

    def __init__(self, keys: Sequence[str | bytes] = ()) -> None:
        parsed = [_Key(key_id(raw), raw) for raw in (_key_bytes(k) for k in keys)]
        self._keys = {k.id: k for k in reversed(parsed)}
        self.current: str | None = parsed[0].id if parsed else None
        self._ciphers: dict[str, Any] = {}
        self._aad: dict[tuple[str, str], bytes] = {}
        if parsed:
            cipher = _aesgcm()
            self._ciphers = {k.id: cipher(k.raw) for k in parsed}
            # The fingerprint secret of idempotency keys: content stays unreadable there too.
            self.fingerprint_secret: bytes | None = hmac.new(
                parsed[0].raw, b"threadloom idempotency v1", hashlib.sha256
            ).digest()
        else:
            self.fingerprint_secret = None

    @property
    def ids(self) -> list[str]:
        """The ids of the keys held, current first."""
        rest = [i for i in self._keys if i != self.current]
        return ([self.current] if self.current else []) + rest

    def _require_current(self, what: str) -> str:
        if self.current is None:
            raise EncryptedData(
                f"cannot write {what}: the store is encrypted and was opened without a key "
                f"(pass encryption_key= or set ${ENV_VAR})"
            )
        return self.current

    # -- text ----------------------------------------------------------------------

    def _bound(self, kid: str, column: str) -> bytes:
        """The associated data of a value: its format, key id and column."""
        aad = self._aad.get((kid, column))
        if aad is None:
            aad = self._aad[kid, column] = f"{PREFIX}{kid}:{column}".encode()
        return aad

    def seal(self, text: str, column: str) -> str:
        """``text`` sealed with the current key, for ``column`` (``table.column``).

        Raises:
            EncryptedData: The keyring holds no key.
        """
        kid = self._require_current(column)
        nonce = os.urandom(_NONCE)
        sealed = self._ciphers[kid].encrypt(
            nonce, text.encode("utf-8", "surrogatepass"), self._bound(kid, column)
        )
        return f"{PREFIX}{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def unseal(self, value: str, column: str, where: str = "") -> str:
        """The text of a sealed value (a value that is not sealed comes back as it is).

        Raises:
            EncryptedData: No key of this id is held, or authentication failed (a
                wrong key, tampering, or a value moved from another column).
        """
        if not value.startswith(PREFIX):
            return value
        kid, _, body = value[len(PREFIX) :].partition(":")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            at = f" ({column}{', ' + where if where else ''})"
            held = ", ".join(self.ids) or "none"
            raise EncryptedData(
                f"this value is encrypted with key {kid}, which this store was not opened "
                f"with (keys held: {held}){at}; pass that key (encryption_key= or "
                f"${ENV_VAR})",
                key_id=kid,
            )
        try:
            raw = binascii.a2b_base64(body.encode("ascii").translate(_FROM_URLSAFE))
            plain = cipher.decrypt(raw[:_NONCE], raw[_NONCE:], self._bound(kid, column))
        except Exception as exc:  # InvalidTag, bad base64: the value is not what was sealed
            at = f" ({column}{', ' + where if where else ''})"
            raise EncryptedData(
                f"an encrypted value failed authentication{at}: it was altered, or moved "
                "from elsewhere",
                key_id=kid,
            ) from exc
        return plain.decode("utf-8", "surrogatepass")  # type: ignore[no-any-return]

    def needs_reseal(self, value: str | None) -> bool:
        """Whether a stored text value is plain or sealed with another key than the current."""
        if value is None:
            return False
        if not value.startswith(PREFIX):
            return True
        return not value.startswith(f"{PREFIX}{self.current}:")


def keyring_from(keys: object) -> Keyring | None:
    """The keyring for ``StateStore.open``'s ``encryption_key`` (``None``: look at
    ``$THREADLOOM_ENCRYPTION_KEY``; neither: ``None``).

    Raises:
        InvalidRecord: A key is malformed.
        InvalidType: ``keys`` is not a key or a sequence of keys.
        ThreadloomError: ``cryptography`` is not installed.
    """
    if keys is None:
        env = os.environ.get(ENV_VAR, "").strip()
        if not env:
            return None
        return Keyring([k for k in (part.strip() for part in env.split(",")) if k])
    if isinstance(keys, str | bytes):
        return Keyring([keys])
    if isinstance(keys, Sequence) and keys and all(isinstance(k, str | bytes) for k in keys):
        return Keyring(list(keys))
    raise InvalidType("encryption_key must be a key (str or bytes) or a non-empty list of keys")
