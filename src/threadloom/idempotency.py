"""Idempotency keys: a retried or resumed write happens once.

``append_message(..., idempotency_key="turn-7")`` records the key with the new
message id in ``threadloom_idempotency_keys``, in the same transaction as the message;
a second call with the same key on the same thread (from any process, after any
restart) returns that id and writes nothing. The key carries a fingerprint of what the
write stores, so reusing a key for different content raises
:class:`~threadloom.errors.Conflict` instead of silently returning the other write.
Keys are kept for :data:`DEFAULT_TTL` (``StateStore.open(idempotency_ttl=...)``), are
purged by ``threadloom retention run``, and go with their thread.
"""

from __future__ import annotations

import hashlib
import hmac
import math

from .contract.lifecycle import IdempotentWrite
from .errors import InvalidRecord, InvalidType

__all__ = ["DEFAULT_TTL", "MAX_KEY_LENGTH", "check_ttl", "idempotent_write"]

#: How long a key is kept: seven days, in seconds.
DEFAULT_TTL = 7 * 86400
#: The longest key taken (a UUID is 36 characters; a hash in hex 64).
MAX_KEY_LENGTH = 256


def check_ttl(value: object) -> int:
    """An idempotency-key lifetime in whole seconds.

    Raises:
        InvalidType: Not a number.
        InvalidRecord: Negative, not finite, or past 100 years.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidType(f"idempotency_ttl must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or not 0 < value <= 100 * 365 * 86400:
        raise InvalidRecord(
            f"idempotency_ttl must be a positive number of seconds up to 100 years, got {value!r}"
        )
    return int(value)


def _check_key(key: object) -> str:
    if type(key) is not str:
        raise InvalidType(f"idempotency_key must be a str, got {type(key).__name__}")
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidRecord(
            f"idempotency_key must be 1 to {MAX_KEY_LENGTH} characters, got {len(key)}"
        )
    return key


def idempotent_write(
    key: object,
    parts: tuple[str | None, ...],
    *,
    now: int,
    ttl: int,
    secret: bytes | None = None,
) -> IdempotentWrite:
    """The backend's description of a write keyed by ``key``.

    Args:
        key: The caller's idempotency key.
        parts: What the write stores (plain text, before any encryption).
        now: The current time.
        ttl: Seconds a key stays valid.
        secret: When the store encrypts, the fingerprint is an HMAC under a key
            derived from the encryption key, so it tells nothing about the content.

    Raises:
        InvalidType: ``key`` is not a str.
        InvalidRecord: ``key`` is empty or too long.
    """
    checked = _check_key(key)
    data = b"\x1f".join(
        b"\x00" if p is None else b"\x01" + p.encode("utf-8", "surrogatepass") for p in parts
    )
    if secret is None:
        fingerprint = "sha256:" + hashlib.sha256(data).hexdigest()
    else:
        fingerprint = "hmac:" + hmac.new(secret, data, hashlib.sha256).hexdigest()
    return IdempotentWrite(checked, fingerprint, now - ttl)
