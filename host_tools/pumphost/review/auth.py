"""Passwords (argon2id), device tokens (random, stored as SHA-256), CSRF tokens per session,
and who may see what: an admin every site, a reviewer the sites they belong to."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("admin", "reviewer")  # people; a device has a token, not an account
_ph = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs the same time.
_DUMMY = _ph.hash("not a password")


def hash_password(password: str) -> str:
    return _ph.hash(password)


def check_password(pw_hash: str | None, password: str) -> bool:
    try:
        return _ph.verify(pw_hash or _DUMMY, password) and pw_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(session: dict) -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def csrf_ok(session: dict, sent: str | None) -> bool:
    want = session.get("csrf")
    return bool(want and sent) and hmac.compare_digest(str(want), str(sent))
