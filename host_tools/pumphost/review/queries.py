"""The review service's reads and writes, all through SQLAlchemy Core with bound parameters.
Access is decided here: every patient or device lookup takes the sites the user may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from pumphost.review import analysis, auth, db


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    sites: frozenset[int]  # an admin: every site


def user(conn: Connection, user_id: int) -> User | None:
    row = conn.execute(select(db.users).where(db.users.c.id == user_id)).first()
    if row is None:
        return None
    if row.role == "admin":
        sites = conn.execute(select(db.sites.c.id)).scalars()
    else:
        q = select(db.memberships.c.site_id).where(db.memberships.c.user_id == user_id)
        sites = conn.execute(q).scalars()
    return User(row.id, row.username, row.role, frozenset(sites))


def login(conn: Connection, username: str, password: str) -> int | None:
    row = conn.execute(select(db.users).where(db.users.c.username == username)).first()
    ok = auth.check_password(row.pw_hash if row else None, password)
    return row.id if ok and row else None


def site_id(conn: Connection, code: str) -> int:
    sid = conn.execute(select(db.sites.c.id).where(db.sites.c.code == code)).scalar()
    if sid is None:
        raise LookupError(f"no site {code!r}")
    return sid


# --- setup (the CLI and the tests) ----------------------------------------------------------


def add_site(conn: Connection, code: str, name: str, tz: str = "UTC") -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)  # refuse an unknown zone now, not on every page
    except (ZoneInfoNotFoundError, ValueError):  # the former is a KeyError: quoted, unclear
        raise ValueError(f"unknown time zone {tz!r} (an IANA name: Europe/London)") from None
    if conn.execute(select(db.sites.c.id).where(db.sites.c.code == code)).first():
        raise ValueError(f"site {code!r} already exists")
    return conn.execute(
        db.sites.insert().values(code=code, name=name, tz=tz)
    ).inserted_primary_key[0]


def add_user(conn: Connection, username: str, password: str, role: str, sites: list[str]) -> int:
    if role not in auth.ROLES:
        raise ValueError(f"role must be one of {', '.join(auth.ROLES)}")
    if conn.execute(select(db.users.c.id).where(db.users.c.username == username)).first():
        raise ValueError(f"user {username!r} already exists")
    problem = auth.password_problem(password, username)
    if problem is not None:
        raise ValueError(problem)
    uid = conn.execute(
        db.users.insert().values(
            username=username, pw_hash=auth.hash_password(password), role=role
        )
    ).inserted_primary_key[0]
    for code in sites:
        conn.execute(db.memberships.insert().values(user_id=uid, site_id=site_id(conn, code)))
    return uid


def board_uid(text: str) -> str:
    """A board's unique id as the pump gives it: 16 hex digits (lower case), not all zero."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raw = b""
    if len(raw) != 8 or not any(raw):
        raise ValueError(f"a board's unique id is 16 hex digits, not all zero; not {text!r}")
    return raw.hex()


def add_device(
    conn: Connection,
    serial: str,
    site: str,
    label: str = "",
    key_hex: str | None = None,
    uid: str | None = None,
) -> str:
    """Registers a pump; returns its upload token (shown once, stored only as a hash). The
    serial is the one the pump keeps (its logs name it); uid: its board's unique id, if known
    (else the first log that names both makes it known)."""
    from pump.api import check_serial

    check_serial(serial)
    uid = board_uid(uid) if uid is not None else None
    if key_hex is not None:
        try:
            n = len(bytes.fromhex(key_hex))
        except ValueError:
            raise ValueError("the HMAC key must be hex digits") from None
        if not 16 <= n <= 64:  # at least 128 bits; HMAC-SHA256 hashes longer keys anyway
            raise ValueError(f"the HMAC key must be 16 to 64 bytes (32 recommended), not {n}")
    if conn.execute(select(db.devices.c.id).where(db.devices.c.serial == serial)).first():
        raise ValueError(f"pump {serial!r} is already registered")
    token = auth.new_token()
    conn.execute(
        db.devices.insert().values(
            serial=serial,
            site_id=site_id(conn, site),
            label=label,
            token_hash=auth.token_hash(token),
            hmac_key=key_hex,
            board_uid=uid,
        )
    )
    return token


def assign(
    conn: Connection,
    serial: str,
    patient: str,
    start_s: int | None = None,
    end_s: int | None = None,
) -> int:
    """Assign a pump to a patient code of the pump's site (created if new) for a period."""
    dev = conn.execute(select(db.devices).where(db.devices.c.serial == serial)).first()
    if dev is None:
        raise LookupError(f"no pump {serial!r}")
    pid = conn.execute(
        select(db.patients.c.id).where(
            db.patients.c.site_id == dev.site_id, db.patients.c.code == patient
        )
    ).scalar()
    if pid is None:
        pid = conn.execute(
            db.patients.insert().values(site_id=dev.site_id, code=patient)
        ).inserted_primary_key[0]
    conn.execute(
        db.assignments.insert().values(
            device_id=dev.id, patient_id=pid, start_s=start_s, end_s=end_s
        )
    )
    return pid


# --- reads ------------------------------------------------------------------------------------


def device_by_token(conn: Connection, token: str):  # noqa: ANN201
    q = select(db.devices).where(db.devices.c.token_hash == auth.token_hash(token))
    return conn.execute(q).first()


def devices(conn: Connection, u: User) -> list:
    records = (
        select(
            db.records.c.device_id,
            func.count().label("n"),
            func.min(db.records.c.t_s).label("t0"),
            func.max(db.records.c.t_s).label("t1"),
        )
        .group_by(db.records.c.device_id)
        .subquery()
    )
    q = (
        select(db.devices, db.sites.c.code.label("site"), records.c.n, records.c.t0, records.c.t1)
        .join(db.sites, db.sites.c.id == db.devices.c.site_id)
        .outerjoin(records, records.c.device_id == db.devices.c.id)
        .where(db.devices.c.site_id.in_(u.sites))
        .order_by(db.sites.c.code, db.devices.c.serial)
    )
    return conn.execute(q).all()


def patients(conn: Connection, u: User, site: int | None = None) -> list:
    q = (
        select(db.patients, db.sites.c.code.label("site"), db.sites.c.tz)
        .join(db.sites, db.sites.c.id == db.patients.c.site_id)
        .where(db.patients.c.site_id.in_(u.sites))
        .order_by(db.sites.c.code, db.patients.c.code)
    )
    if site is not None:
        q = q.where(db.patients.c.site_id == site)
    return conn.execute(q).all()


def sites(conn: Connection, u: User) -> list:
    q = select(db.sites).where(db.sites.c.id.in_(u.sites)).order_by(db.sites.c.code)
    return conn.execute(q).all()


def patient(conn: Connection, u: User, patient_id: int):  # noqa: ANN201
    """The patient row, or None when it does not exist or is another site's."""
    q = (
        select(db.patients, db.sites.c.code.label("site"), db.sites.c.tz)
        .join(db.sites, db.sites.c.id == db.patients.c.site_id)
        .where(db.patients.c.id == patient_id, db.patients.c.site_id.in_(u.sites))
    )
    return conn.execute(q).first()


def patient_records(conn: Connection, patient_id: int) -> tuple[list[analysis.Rec], list]:
    """The patient's records (every assigned pump, within its periods), in time order, and
    the assignments with their pumps."""
    a = db.assignments
    asg = conn.execute(
        select(a, db.devices.c.serial, db.devices.c.label)
        .join(db.devices, db.devices.c.id == a.c.device_id)
        .where(a.c.patient_id == patient_id)
        .order_by(a.c.start_s)
    ).all()
    if not asg:
        return [], []
    r = db.records.c
    conds = [
        and_(
            r.device_id == x.device_id,
            r.t_s >= x.start_s if x.start_s is not None else True,
            r.t_s < x.end_s if x.end_s is not None else True,
        )
        for x in asg
    ]
    q = (
        select(r.device_id, r.seq, r.code, r.a, r.b, r.t_s)
        .where(or_(*conds), r.code < 0x7E)  # TIME and SEAL: the log's own, not events
        .order_by(r.t_s, r.device_id, r.seq)
    )
    recs = [analysis.Rec(*row) for row in conn.execute(q)]
    return recs, asg


def device_seqs(conn: Connection, device_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {d: [] for d in device_ids}
    q = (
        select(db.records.c.device_id, db.records.c.seq)
        .where(db.records.c.device_id.in_(device_ids))
        .order_by(db.records.c.device_id, db.records.c.seq)
    )
    for d, s in conn.execute(q):
        out[d].append(s)
    return out


def device_anchors(conn: Connection, device_ids: list[int]) -> dict[int, dict[int, int]]:
    """Per device, each stored TIME anchor's seq and how many seqs it says the pump burned
    since the anchor before (LOG-FORMAT.md: bits 0-22 of its x)."""
    out: dict[int, dict[int, int]] = {d: {} for d in device_ids}
    q = select(db.records.c.device_id, db.records.c.seq, db.records.c.raw).where(
        db.records.c.device_id.in_(device_ids), db.records.c.code == 0x7E
    )
    for d, s, raw in conn.execute(q):
        out[d][s] = int.from_bytes(bytes(raw)[1:4], "little") & 0x7FFFFF
    return out


def record_count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(db.records)).scalar_one()


def uploads(conn: Connection, u: User, limit: int = 20) -> list:
    q = (
        select(db.uploads, db.devices.c.serial)
        .join(db.devices, db.devices.c.id == db.uploads.c.device_id)
        .where(db.devices.c.site_id.in_(u.sites))
        .order_by(db.uploads.c.id.desc())
        .limit(limit)
    )
    return conn.execute(q).all()


def log_access(
    conn: Connection, u: User, action: str, patient_id: int | None, detail: str = ""
) -> None:
    conn.execute(
        db.audit.insert().values(
            at=dt.datetime.now(dt.UTC),
            user_id=u.id,
            action=action,
            patient_id=patient_id,
            detail=detail[:500],
        )
    )


def audit_count(conn: Connection, patient_id: int) -> int:
    q = select(func.count()).select_from(db.audit).where(db.audit.c.patient_id == patient_id)
    return conn.execute(q).scalar_one()


def secret(conn: Connection) -> str:
    """The session-signing secret, made once and kept in the database (sessions survive a
    restart; several server processes on one database agree)."""
    q = select(db.settings.c.value).where(db.settings.c.key == "session_secret")
    value = conn.execute(q).scalar()
    if value is None:
        value = auth.new_token()
        conn.execute(db.settings.insert().values(key="session_secret", value=value))
    return value
