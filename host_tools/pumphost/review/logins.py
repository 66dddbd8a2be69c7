"""Logins: throttling per user name and per client address, and server-side sessions.

Both live in the database, so every server process on it agrees. An attempt first takes a
slot (a provisional failure) on its user name and on its address, in one short transaction;
the password is checked outside it; then the slot is given back on success or kept. A user
name (existing or not: no telling them apart) with `account_failures` failures, or an address
with `address_failures`, within `window_s` is locked for `lockout_s`, twice as long for each
further lock while failures go on (up to `max_lockout_s`); a quiet `window_s` after a lock
forgets it, a successful login clears its user name, `pumpctl review unlock` clears either.
A locked attempt is refused before its password is looked at. Failed, locking, refused and
successful logins and logouts go to the audit table.

A session is a random id in the signed cookie, stored as its SHA-256 with its user and
expiry; logging out deletes it, so a copied cookie stops working there and then."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from pumphost.review import auth, db


@dataclass(frozen=True)
class Policy:
    account_failures: int = 5  # failed logins of one user name within window_s lock it
    address_failures: int = 20  # ... and of one client address (any user names)
    window_s: float = 900.0
    lockout_s: float = 900.0  # the first lock; each further one twice the last
    max_lockout_s: float = 86400.0
    session_s: float = 8 * 3600.0

    def lock_s(self, lockouts: int) -> float:
        return min(self.lockout_s * 2.0 ** min(lockouts - 1, 40), self.max_lockout_s)


def _keys(username: str, address: str) -> tuple[str, str]:
    return "user:" + username.strip().lower()[:150], "addr:" + address[:150]


def _row(conn: Connection, key: str, now: float):  # noqa: ANN202
    """The key's row, created if new, locked until the transaction ends."""
    t = db.login_throttle
    ins = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(t)
    conn.execute(
        ins.values(key=key, failures=0, window_start=now, last_failure=now, lockouts=0)
        .on_conflict_do_nothing(index_elements=["key"])
    )  # fmt: skip
    return conn.execute(select(t).where(t.c.key == key).with_for_update()).one()


def _audit(
    conn: Connection, user_id: int | None, action: str, username: str, address: str, more: str = ""
) -> None:
    conn.execute(
        db.audit.insert().values(
            at=dt.datetime.now(dt.UTC),
            user_id=user_id,
            action=action,
            patient_id=None,
            detail=f"user {username[:100]!r} from {address}{more}"[:500],
        )
    )


def user_id(conn: Connection, username: str) -> int | None:
    return conn.execute(select(db.users.c.id).where(db.users.c.username == username)).scalar()


def _utc(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def begin(
    conn: Connection, policy: Policy, username: str, address: str, now: float
) -> float | None:
    """Takes a slot for an attempt; or, when the user name or the address is locked, logs
    the refusal and returns when the lock ends."""
    t = db.login_throttle
    limits = (policy.account_failures, policy.address_failures)
    rows = [_row(conn, k, now) for k in _keys(username, address)]
    for r, limit in zip(rows, limits, strict=True):
        until = None
        if r.locked_until is not None and now < r.locked_until:
            until = r.locked_until
        elif (
            r.locked_until is None
            and r.failures >= limit
            and now - r.window_start <= policy.window_s
        ):
            until = r.window_start + policy.window_s  # the slots are taken by attempts running now
        if until is not None:
            what = "user name" if r.key.startswith("user:") else "address"
            _audit(conn, user_id(conn, username), "login throttled", username, address,
                   f": {what} locked until {_utc(until)}")  # fmt: skip
            return until
    for r in rows:
        failures, start, lockouts, locked = r.failures, r.window_start, r.lockouts, r.locked_until
        if now - max(r.last_failure, locked or 0.0) > policy.window_s:
            lockouts = 0  # quiet for a whole window since the last failure or lock
        if locked is not None or now - start > policy.window_s:
            failures, start, locked = 0, now, None  # a new window
        conn.execute(
            update(t)
            .where(t.c.key == r.key)
            .values(
                failures=failures + 1, window_start=start, lockouts=lockouts, locked_until=locked
            )
        )
    return None


def finish(
    conn: Connection,
    policy: Policy,
    username: str,
    address: str,
    user_id: int | None,
    ok: bool,
    now: float,
) -> None:
    """After the password check: a success gives the slots back (and clears the user name's
    count); a failure keeps them and locks what reached its limit."""
    t = db.login_throttle
    user_key, addr_key = _keys(username, address)
    if ok:
        conn.execute(delete(t).where(t.c.key == user_key))
        conn.execute(
            update(t)
            .where(t.c.key == addr_key, t.c.failures > 0)
            .values(failures=t.c.failures - 1)
        )
        _audit(conn, user_id, "login", username, address)
        return
    _audit(conn, user_id, "login failed", username, address)
    for key, limit in ((user_key, policy.account_failures), (addr_key, policy.address_failures)):
        r = _row(conn, key, now)
        values: dict[str, object] = {"last_failure": now}
        if r.locked_until is None and r.failures >= limit:
            lockouts = r.lockouts + 1
            until = now + policy.lock_s(lockouts)
            values.update(lockouts=lockouts, locked_until=until)
            what = "user name" if key == user_key else f"address {address}"
            _audit(conn, user_id, "login locked", username, address,
                   f": {r.failures} failures, {what} locked until {_utc(until)}")  # fmt: skip
        conn.execute(update(t).where(t.c.key == key).values(**values))


def unlock(conn: Connection, username: str | None = None, address: str | None = None) -> int:
    """Clears the user name's and/or the address's failures and locks (an admin's command)."""
    keys = []
    if username is not None:
        keys.append(_keys(username, "")[0])
    if address is not None:
        keys.append(_keys("", address)[1])
    n = conn.execute(delete(db.login_throttle).where(db.login_throttle.c.key.in_(keys))).rowcount
    conn.execute(
        db.audit.insert().values(
            at=dt.datetime.now(dt.UTC),
            user_id=None,
            action="login unlocked",
            patient_id=None,
            detail=f"user {username!r}, address {address!r} (pumpctl review unlock)"[:500],
        )
    )
    return n


# --- sessions ---------------------------------------------------------------------------------


def new_session(conn: Connection, policy: Policy, user_id: int, now: float) -> str:
    """A new session for the user; returns its id for the cookie (stored only as a hash)."""
    s = db.sessions
    conn.execute(delete(s).where(s.c.expires < now))  # housekeeping
    token = auth.new_token()
    conn.execute(
        s.insert().values(
            id=auth.token_hash(token), user_id=user_id, created=now, expires=now + policy.session_s
        )
    )
    return token


def session_user(conn: Connection, token: object, now: float) -> int | None:
    """The user of a live session, or None (logged out, expired, never was)."""
    if not isinstance(token, str) or not token:
        return None
    s = db.sessions
    q = select(s.c.user_id).where(s.c.id == auth.token_hash(token), s.c.expires > now)
    return conn.execute(q).scalar()


def end_session(conn: Connection, token: object, address: str) -> None:
    """Logs out: the session is deleted, whoever holds its cookie."""
    if not isinstance(token, str) or not token:
        return
    s = db.sessions
    row = conn.execute(
        select(s.c.user_id, db.users.c.username)
        .join(db.users, db.users.c.id == s.c.user_id)
        .where(s.c.id == auth.token_hash(token))
    ).first()
    if row is None:
        return
    conn.execute(delete(s).where(s.c.id == auth.token_hash(token)))
    _audit(conn, row.user_id, "logout", row.username, address)
