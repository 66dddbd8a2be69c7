"""Tables of the review service (SQLAlchemy 2 Core), the engine, and the schema migration.

Times are stored as they came: device uptime and device UTC (seconds, as the log has them)
per record, the server's receipt time per upload; pages convert to the site's zone."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine

DEFAULT_URL = "sqlite:///pumpreview.sqlite3"
metadata = MetaData()

sites = Table(
    "sites",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("tz", String(64), nullable=False),  # IANA zone: pages show local time by it
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("pw_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # admin | reviewer
)

memberships = Table(
    "memberships",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), primary_key=True),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("serial", String(100), nullable=False, unique=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("label", String(200), nullable=False, default=""),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the token
    Column("hmac_key", String(128)),  # hex; None: the device keeps no HMAC chain
    # The board's unique id (16 hex digits) as its logs name it; None: not known yet (set by
    # add-device --uid, or by the first upload whose log names both serial and board).
    Column("board_uid", String(16)),
)

patients = Table(
    "patients",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("site_id", Integer, ForeignKey("sites.id"), nullable=False),
    Column("code", String(64), nullable=False),  # pseudonymous: never a name
    UniqueConstraint("site_id", "code"),
)

# A pump is assigned to a patient for a period [start_s, end_s) of the records' timeline
# (Unix seconds, t_s below); None: open.
assignments = Table(
    "assignments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("device_id", Integer, ForeignKey("devices.id"), nullable=False),
    Column("patient_id", Integer, ForeignKey("patients.id"), nullable=False),
    Column("start_s", BigInteger),
    Column("end_s", BigInteger),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("device_id", Integer, ForeignKey("devices.id"), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),  # server time, UTC
    Column("filename", String(300), nullable=False),
    Column("entries", Integer, nullable=False),
    Column("new", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("by_user", Integer, ForeignKey("users.id")),  # None: the device's token
)

records = Table(
    "records",
    metadata,
    Column("device_id", Integer, ForeignKey("devices.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("code", Integer, nullable=False),
    Column("a", BigInteger, nullable=False),
    Column("b", BigInteger, nullable=False),
    Column("uptime_s", BigInteger, nullable=False),  # device uptime, -1: unknown
    Column("utc_s", BigInteger, nullable=False),  # device UTC since the log epoch, -1: unset
    Column("t_s", BigInteger, nullable=False),  # one timeline (Unix s where UTC known)
    Column("raw", LargeBinary(16), nullable=False),  # the record as in flash: re-verifiable
    Column("upload_id", Integer, ForeignKey("uploads.id"), nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id")),  # None: no such user (a login)
    Column("action", String(40), nullable=False),
    Column("patient_id", Integer, ForeignKey("patients.id")),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_audit_patient", "patient_id"),  # who viewed this patient
)

# Failed logins per key ("user:NAME" lower-cased, "addr:ADDRESS"), and locks (logins.py).
# Times are Unix seconds.
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(160), primary_key=True),
    Column("failures", Integer, nullable=False),  # in the window, attempts running included
    Column("window_start", Float, nullable=False),
    Column("last_failure", Float, nullable=False),
    Column("lockouts", Integer, nullable=False),  # locks since the last quiet window
    Column("locked_until", Float),
)

# Logged-in sessions: the cookie holds a random id, this table its SHA-256 (logins.py).
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created", Float, nullable=False),
    Column("expires", Float, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


def engine(url: str = DEFAULT_URL) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(eng, "connect")
        def _pragmas(conn, _record) -> None:  # noqa: ANN001
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers do not wait for an upload
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return eng
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def migrate(eng: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with eng.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
