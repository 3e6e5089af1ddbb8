"""Kling's optional signed callbacks (KDOC26 "Webhook Signature", Standard Webhooks).

With a Webhook Secret (`whsec_<base64>`) made in Kling's console, each callback carries
`webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,<base64>`,
several separated by spaces while the secret is rotated). The signature is HMAC-SHA256
over `{id}.{timestamp}.{raw body}` keyed with the decoded secret. A timestamp more than
five minutes off is refused, so a captured callback cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
TOLERANCE_S = 5 * 60


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret; ValueError when it is not one (told at start-up)."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("KLING_WEBHOOK_SECRET: not a whsec_<base64> secret") from None
    if not key:
        raise ValueError("KLING_WEBHOOK_SECRET: empty")
    return key


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature Kling sends (also how tests sign their callbacks)."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_ok(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> bool:
    """True when the callback carries a fresh signature made with `secret`."""
    webhook_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    offered = headers.get("webhook-signature", "")
    if not (webhook_id and stamp.isdigit() and offered):
        return False
    timestamp = int(stamp)
    if abs(now - timestamp) > TOLERANCE_S:
        return False
    expected = sign(secret, webhook_id, timestamp, body).encode()
    return any(hmac.compare_digest(expected, value.encode()) for value in offered.split())
