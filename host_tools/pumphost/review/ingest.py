"""An upload: the .plog checked whole (frame, CRCs, sequence, the HMAC chain where the device
has a key), then its records stored once per (device, seq) in one transaction. A rejected
upload stores nothing; a record already stored with other bytes rejects the upload (two
different logs under one device id)."""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Connection

from pumphost import paths
from pumphost.logs import plogfile
from pumphost.logs.verify import verify
from pumphost.review import db
from pumphost.review.decode import decode

paths.use_firmware_core()

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
    with tempfile.TemporaryDirectory() as d:  # plogfile reads paths: keep one reader
        p = Path(d) / "upload.plog"
        p.write_bytes(data)
        try:
            log = plogfile.read(p)
        except plogfile.PlogError as e:
            raise UploadError(str(e).replace(str(p), "the uploaded file")) from None
    key = bytes.fromhex(key_hex) if key_hex else None
    res = verify(log.data, key, log.problems)
    if not res.ok:
        raise UploadError("log NOT VERIFIED, nothing stored: " + "; ".join(res.errors[:5]))
    if not log.count:
        raise UploadError("the log holds no records")
    return log, res.notes


def store(
    conn: Connection,
    device_id: int,
    data: bytes,
    filename: str,
    key_hex: str | None,
    by_user: int | None = None,
) -> Outcome:
    log, notes = parse(data, key_hex)
    entries = log.data
    raws = {}  # every entry, intact or burned: the seqs this upload covers
    for off in range(0, len(entries), plogfile.ENTRY):
        seq = int.from_bytes(entries[off : off + 4], "little")
        raws[seq] = entries[off + 4 : off + plogfile.ENTRY]
    d = decode(entries)
    lo, hi = min(raws), max(raws)
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
