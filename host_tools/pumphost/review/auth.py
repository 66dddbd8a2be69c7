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


MIN_PASSWORD = 12
MAX_PASSWORD = 1024
# Long enough to pass the length rule and still among the most common (breach lists).
_COMMON = frozenset(
    "123456789012 1234567890123 12345678901234 password1234 password12345 password123456 "
    "qwertyuiop12 qwertyuiopas 1q2w3e4r5t6y 1qaz2wsx3edc qwerty123456 abcdefghijkl "
    "iloveyou1234 passwordpassword letmein12345 welcome12345 administrator changeme1234 "
    "trustno1trustno1 correcthorsebatterystaple".split()
)


def password_problem(password: str, username: str) -> str | None:
    """Why a new password is refused (NIST SP 800-63B style: length, not composition), or
    None: at least 12 characters, at least 5 different ones, not containing the user name,
    not a well-known one."""
    if len(password) < MIN_PASSWORD:
        return f"the password must have at least {MIN_PASSWORD} characters (a few words do)"
    if len(password) > MAX_PASSWORD:
        return f"the password must have at most {MAX_PASSWORD} characters"
    if len(set(password)) < 5:
        return "the password must have at least 5 different characters"
    name = username.strip().lower()
    if len(name) >= 3 and name in password.lower():
        return "the password must not contain the user name"
    if "".join(password.lower().split()) in _COMMON:
        return "the password is one of the best known ones: choose another"
    return None


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
