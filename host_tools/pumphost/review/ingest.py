"""An upload: the .plog checked whole (frame, CRCs, sequence, the HMAC chain where the device
has a key), then its records stored once per (device, seq) in one transaction. A rejected
upload stores nothing; a record already stored with other bytes rejects the upload (two
different logs under one device id).

Only the token's pump's log is taken: the file names its pump (its header: the serial the
pump keeps, the board's unique id) and that must be the device the token was made for
(`check_pump`). Stored records are never changed, and new ones are timed from what is stored
before them (decode.Prior), so an upload never moves a day already stored."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from pumphost.logs import plogfile
from pumphost.logs.verify import verify
from pumphost.review import db
from pumphost.review.decode import Prior, decode

MAX_BYTES = 8 * 1024 * 1024  # 33 days of log are about 1 MB; a bigger body is refused unread


class UploadError(Exception):
    """A one-line reason the upload was refused (shown to the user, nothing stored)."""


@dataclass
class Outcome:
    entries: int
    new: int
    duplicates: int
    first_seq: int | None
    last_seq: int | None
    notes: list[str]

    def as_json(self) -> dict[str, object]:
        return self.__dict__.copy()


def parse(data: bytes, key_hex: str | None) -> tuple[plogfile.Plog, list[str]]:
    """The checked entries of an uploaded .plog and verify's notes; UploadError if not clean."""
    try:  # the one reader of pulled logs: it refuses what no pull of one log holds
        log = plogfile.parse(data, "the uploaded file")
    except plogfile.PlogError as e:
        raise UploadError(str(e)) from None
    key = bytes.fromhex(key_hex) if key_hex else None
    res = verify(log.data, key, log.problems)
    if not res.ok:
        raise UploadError("log NOT VERIFIED, nothing stored: " + "; ".join(res.errors[:5]))
    if not log.count:
        raise UploadError("the log holds no records")
    return log, res.notes


def check_pump(conn: Connection, device_id: int, ident: plogfile.Ident) -> str | None:
    """UploadError unless the log names the token's pump: its serial, and the board's unique
    id once one is known for it (registered with add-device --uid, or taken from the first
    log that named both). Returns a note when this upload makes the board's id known."""
    dev = conn.execute(
        select(db.devices.c.serial, db.devices.c.board_uid).where(db.devices.c.id == device_id)
    ).one()
    fix = f"`pumpctl --port PORT --pin PIN serial {dev.serial}`, then pull into a new file"
    if not ident.named:
        raise UploadError(
            f"the log does not name its pump (no serial, no unique id: a pump or pumpctl from "
            f"before logs named their pump), so it cannot be told from another pump's log; "
            f"nothing stored. Give the pump its serial ({fix})"
        )
    if ident.serial and ident.serial != dev.serial:
        raise UploadError(
            f"this is the log of pump {ident.serial}, not of {dev.serial} (the token's pump): "
            "nothing stored"
        )
    if dev.board_uid:
        if ident.uid != dev.board_uid:
            raise UploadError(
                f"this log is from {ident}, but {dev.serial} is the board with unique id "
                f"{dev.board_uid}: not this pump's log, nothing stored"
            )
        return None
    if not ident.serial:
        raise UploadError(
            f"the log names only the board's unique id {ident.uid}, and no board is known for "
            f"{dev.serial}: give the pump its serial ({fix}) or register the board "
            f"(`pumpctl review add-device {dev.serial} --uid {ident.uid}`); nothing stored"
        )
    if not ident.uid:
        return None
    bound = conn.execute(
        db.devices.update()
        .where(db.devices.c.id == device_id, db.devices.c.board_uid.is_(None))
        .values(board_uid=ident.uid)
    ).rowcount
    if not bound:  # another upload of this pump made it known meanwhile: check against it
        return check_pump(conn, device_id, ident)
    return f"{dev.serial} is the board with unique id {ident.uid} from now on"


def prior(conn: Connection, device_id: int, lo: int) -> Prior | None:
    """What is stored for the pump before seq lo (decode.Prior), None when nothing is."""
    r = db.records.c
    end_t = conn.execute(
        select(func.max(r.t_s)).where(r.device_id == device_id, r.seq < lo)
    ).scalar()
    if end_t is None:
        return None
    a = conn.execute(
        select(r.seq, r.uptime_s, r.utc_s, r.t_s)
        .where(r.device_id == device_id, r.seq < lo, r.code == 0x7E)
        .order_by(r.seq.desc())
        .limit(1)
    ).first()
    if a is None:
        return Prior(None, end_t)
    held = conn.execute(
        select(func.count()).where(r.device_id == device_id, r.seq > a.seq, r.seq < lo)
    ).scalar_one()
    if held != lo - a.seq - 1:  # a seq between is not stored: another anchor may be there
        return Prior(None, end_t)
    return Prior((a.uptime_s, a.utc_s, a.t_s - a.uptime_s), end_t)


def store(
    conn: Connection,
    device_id: int,
    data: bytes,
    filename: str,
    key_hex: str | None,
    by_user: int | None = None,
) -> Outcome:
    named = None
    if data[:8] == plogfile.MAGIC and len(data) >= plogfile.HEAD:  # else parse says what
        named = check_pump(conn, device_id, plogfile.ident_of(data))
    log, notes = parse(data, key_hex)
    if named:
        notes = [*notes, named]
    entries = log.data
    raws = {}  # every entry, intact or burned: the seqs this upload covers
    for off in range(0, len(entries), plogfile.ENTRY):
        seq = int.from_bytes(entries[off : off + 4], "little")
        raws[seq] = entries[off + 4 : off + plogfile.ENTRY]
    lo, hi = min(raws), max(raws)
    d = decode(entries, prior(conn, device_id, lo))
    stored = dict(
        conn.execute(
            select(db.records.c.seq, db.records.c.raw).where(
                db.records.c.device_id == device_id,
                db.records.c.seq.between(lo, hi),
            )
        ).all()
    )
    for seq, raw in stored.items():
        if seq in raws and bytes(raw) != raws[seq]:
            raise UploadError(
                f"seq {seq} differs from the record already stored for this pump: "
                "not the same log, nothing stored"
            )
    upload_id = conn.execute(
        db.uploads.insert().values(
            device_id=device_id,
            received_at=dt.datetime.now(dt.UTC),
            filename=filename[:300],
            entries=len(raws),
            new=0,
            sha256=hashlib.sha256(data).hexdigest(),
            by_user=by_user,
        )
    ).inserted_primary_key[0]
    cols = zip(d.seq.tolist(), d.code.tolist(), d.a.tolist(), d.b.tolist(),
               d.uptime.tolist(), d.utc.tolist(), d.t.tolist(), d.raw, strict=True)  # fmt: skip
    new = [
        {
            "device_id": device_id,
            "seq": seq,
            "code": code,
            "a": a,
            "b": b,
            "uptime_s": up,
            "utc_s": utc,
            "t_s": t,
            "raw": raw,
            "upload_id": upload_id,
        }
        for seq, code, a, b, up, utc, t, raw in cols
        if seq not in stored
    ]
    untimed = [s for s in d.seq[: d.untimed].tolist() if s not in stored]
    if untimed:
        notes = [*notes, (
            f"seq {untimed[0]}..{untimed[-1]} come before the log's first TIME anchor and no "
            "stored record times them: placed at that anchor's time, the latest they can be "
            "(with no anchor at all, after what is stored)"
        )]  # fmt: skip
    inserted = _insert_new(conn, new)
    _same_as_stored(conn, device_id, raws)
    conn.execute(db.uploads.update().where(db.uploads.c.id == upload_id).values(new=inserted))
    return Outcome(len(raws), inserted, len(d.raw) - inserted, lo, hi, notes)


_COLS = ("device_id", "seq", "code", "a", "b", "uptime_s", "utc_s", "t_s", "raw", "upload_id")


def _insert_new(conn: Connection, new: list[dict[str, object]]) -> int:
    """Insert, skipping any (device, seq) a concurrent upload of the same pump stored first;
    returns how many rows this upload added (one statement's count: exact under
    concurrency)."""
    if not new:
        return 0
    if conn.dialect.name == "postgresql":
        return _copy_new(conn, new)
    from sqlalchemy.dialects.sqlite import insert

    stmt = insert(db.records).on_conflict_do_nothing(index_elements=["device_id", "seq"])
    return conn.execute(stmt, new).rowcount  # sqlite3 sums an executemany's changes


def _copy_new(conn: Connection, new: list[dict[str, object]]) -> int:
    """PostgreSQL: COPY into a temporary table, then one INSERT ... ON CONFLICT DO NOTHING
    (a tenth of the time of row-by-row parameters). Fixed SQL text: no value is spliced."""
    cols = ", ".join(_COLS)
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS records_in "
            "(LIKE records INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY records_in ({cols}) FROM STDIN") as copy:
            for row in new:
                copy.write_row([row[c] for c in _COLS])
        cur.execute(
            f"INSERT INTO records ({cols}) SELECT {cols} FROM records_in "
            "ON CONFLICT (device_id, seq) DO NOTHING"
        )
        n = cur.rowcount
        cur.execute("DELETE FROM records_in")
    finally:
        cur.close()
    return n


def _same_as_stored(conn: Connection, device_id: int, raws: dict[int, bytes]) -> None:
    """After the insert: every seq of the upload now stored holds the uploaded bytes (a
    concurrent upload of another log under this pump may have won a seq)."""
    q = select(db.records.c.seq, db.records.c.raw).where(
        db.records.c.device_id == device_id, db.records.c.seq.between(min(raws), max(raws))
    )
    for seq, raw in conn.execute(q):
        if seq in raws and bytes(raw) != raws[seq]:
            raise UploadError(
                f"seq {seq} differs from the record already stored for this pump: "
                "not the same log, nothing stored"
            )
