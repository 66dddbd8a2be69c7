"""A log names its pump, and the service takes a log only under the token of the pump it
names (serial, and the board's unique id once known); an upload never moves what is stored
for a day (records are timed from what is stored before them); burned seqs and a clock never
set are said as such. On SQLite and PostgreSQL, through the real HTTP API where it matters."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import PASSWORD, Site
from review_web import Client, Server
from sqlalchemy import func, select

from pump import events
from pump.logring import LogRing
from pumphost.logs import plogfile, synth
from pumphost.logs.nor import SECTOR, NorFlash
from pumphost.logs.plogfile import Ident
from pumphost.review import analysis, db, ingest, queries
from pumphost.review.client import UploadFailed, upload
from pumphost.review.decode import decode

ENTRY = 20
DAY = 1470  # records a day (synth: a DELIVERED record a minute and the day's events)


def _file(tmp: Path, entries: bytes, ident: Ident, name: str = "p.plog") -> Path:
    p = tmp / name
    plogfile.write(p, entries, ident)
    return p


def _counts(eng) -> tuple[int, int]:  # noqa: ANN001
    with eng.begin() as c:
        return (
            c.execute(select(func.count()).select_from(db.records)).scalar_one(),
            c.execute(select(func.count()).select_from(db.uploads)).scalar_one(),
        )


def _days(eng, code: str = "N-001") -> list[tuple[str, float, float]]:  # noqa: ANN001
    with eng.begin() as c:
        pid = c.execute(select(db.patients.c.id).where(db.patients.c.code == code)).scalar_one()
        recs, _ = queries.patient_records(c, pid)
    tl = analysis.timeline(recs)
    return [
        (d.date, round(d.delivered_ug, 1), round(d.programmed_ug, 1))
        for d in analysis.per_day(tl, ZoneInfo("Europe/London"))
    ]


def _store(eng, serial: str, entries: bytes, ident: Ident) -> ingest.Outcome:  # noqa: ANN001
    with eng.begin() as c:
        dev = c.execute(select(db.devices.c.id).where(db.devices.c.serial == serial)).scalar()
        data = plogfile.header(ident) + entries
        return ingest.store(c, dev, data + plogfile.footer(data), "x.plog", None)


def test_a_foreign_log_under_another_pumps_token_is_refused_and_no_day_changes(
    server: Server, site: Site, tmp_path: Path
) -> None:
    """The issue's case: another pump's log, cut at seq 5000-6000 (clean on its own), sent
    with N-1's token after N-1's own three days."""
    own = synth.octreotide(3 * DAY)
    r = upload(_file(tmp_path, own, Ident("N-1")), server.base, site.tokens["N-1"])
    assert r["new"] == 3 * DAY
    days = _days(server.engine)
    other = synth.octreotide(6001, alarms_every=777)[5000 * ENTRY :]
    foreign = _file(tmp_path, other, Ident("PUMP-0007", "e6614103e7452d2f"), "f.plog")
    with pytest.raises(UploadFailed, match="422: this is the log of pump PUMP-0007, not of N-1"):
        upload(foreign, server.base, site.tokens["N-1"])
    unnamed = tmp_path / "u.plog"
    plogfile.write(unnamed, other)  # an older pull: names no pump
    with pytest.raises(UploadFailed, match="does not name its pump.*serial N-1"):
        upload(unnamed, server.base, site.tokens["N-1"])
    assert _counts(server.engine) == (3 * DAY, 1)
    assert _days(server.engine) == days


def test_the_boards_unique_id_is_checked_once_known(site: Site) -> None:
    eng = db.engine(site.url)
    with eng.begin() as c:
        queries.add_device(c, "PUMP-0042", "north", uid="E6614103E7452D2F")
        queries.add_device(c, "PUMP-0043", "north")
        for bad in ("e661", "0000000000000000", "not hex at all!"):
            with pytest.raises(ValueError, match="16 hex digits"):
                queries.add_device(c, "PUMP-0044", "north", uid=bad)
        with pytest.raises(ValueError, match="serial"):
            queries.add_device(c, "PUMP 45", "north")
    log = synth.octreotide(300)
    with pytest.raises(ingest.UploadError, match="unique id e6614103e7452d2f: not this pump"):
        _store(eng, "PUMP-0042", log, Ident("PUMP-0042", "0102030405060708"))
    assert _store(eng, "PUMP-0042", log[: 100 * ENTRY], Ident("", "e6614103e7452d2f")).new == 100
    assert _store(eng, "PUMP-0042", log, Ident("PUMP-0042", "e6614103e7452d2f")).new == 200
    # not registered: the first log that names serial and board makes the board known
    with pytest.raises(ingest.UploadError, match="names only the board's unique id"):
        _store(eng, "PUMP-0043", log, Ident("", "aaaaaaaaaaaaaaaa"))
    out = _store(eng, "PUMP-0043", log[: 100 * ENTRY], Ident("PUMP-0043", "aaaaaaaaaaaaaaaa"))
    assert "PUMP-0043 is the board with unique id aaaaaaaaaaaaaaaa" in " ".join(out.notes)
    with pytest.raises(ingest.UploadError, match="not this pump's log"):
        _store(eng, "PUMP-0043", log, Ident("PUMP-0043", "bbbbbbbbbbbbbbbb"))
    assert _store(eng, "PUMP-0043", log, Ident("", "aaaaaaaaaaaaaaaa")).new == 200
    assert _counts(eng) == (600, 4)
    eng.dispose()


def test_a_later_pull_starting_mid_sector_is_timed_from_what_is_stored(site: Site) -> None:
    """Seqs 3000 on of the pump's own log (the first anchor at 3048) after 0-2999: the records
    before that anchor take their times from the stored anchor, so the first day, stored
    whole, never changes, and every record has the time one upload of the whole gives it."""
    eng = db.engine(site.url)
    entries = synth.octreotide(3 * DAY)
    _store(eng, "N-1", entries[: 3000 * ENTRY], Ident("N-1"))
    first = _days(eng)
    out = _store(eng, "N-1", entries[3000 * ENTRY :], Ident("N-1"))
    assert out.new == 3 * DAY - 3000 and out.notes == []
    assert _days(eng)[0] == first[0]
    whole = decode(entries)
    with eng.begin() as c:
        got = c.execute(select(db.records.c.t_s).order_by(db.records.c.seq)).scalars().all()
    assert got == whole.t.tolist()
    eng.dispose()


def test_untimed_records_are_never_placed_before_the_first_anchor() -> None:
    cut = synth.octreotide(3 * DAY)[3000 * ENTRY :]
    d = decode(cut)
    assert d.untimed == 48  # seqs 3000-3047: before the anchor at 3048
    assert (d.t[:48] == d.t[48]).all() and (d.t[48:] >= d.t[48]).all()


def _unclocked_log(power_cut: bool) -> bytes:
    """Two boots, the clock never set, a DELIVERED record a minute; a power cut between the
    boots burns seqs (the reboot's anchor says how many)."""
    flash = NorFlash(24 * SECTOR)
    ring = LogRing(flash, 0, uptime=0, log_id=5)
    t = 0
    for m in range(1500):
        t += 60_000_000
        ring.add(t % (1 << 30), events.DELIVERED, m * 2266, m * 55)
        ring.service(t % (1 << 30))
    if power_cut:  # a reboot after a cut: the ring burns the slot after its last write
        ring = LogRing(flash, 0, uptime=0)
    for m in range(1500):
        ring.add(m * 60_000_000 % (1 << 30), events.DELIVERED, m * 2266, m * 55)
        ring.service(m * 60_000_000 % (1 << 30))
    out, seq = bytearray(), 0
    while page := ring.read(seq, 128):
        out += page
        seq = int.from_bytes(page[-20:-16], "little") + 1
    return bytes(out)


def test_a_clock_never_set_goes_on_from_the_stored_boot_and_says_so(
    server: Server, site: Site, tmp_path: Path
) -> None:
    entries = _unclocked_log(power_cut=True)
    whole = decode(entries)
    k = 2500  # in the second boot, mid-sector
    for part in (entries[: k * ENTRY], entries[k * ENTRY :]):
        upload(_file(tmp_path, part, Ident("N-1")), server.base, site.tokens["N-1"])
    with server.engine.begin() as c:
        got = c.execute(select(db.records.c.t_s).order_by(db.records.c.seq)).scalars().all()
    assert got == whole.t.tolist()  # as one upload of the whole: no boot put back at 0
    c = Client(server.base)
    c.login("alice", PASSWORD)
    with server.engine.begin() as conn:
        pid = conn.execute(
            select(db.patients.c.id).where(db.patients.c.code == "N-001")
        ).scalar_one()
    status, page = c.get(f"/patients/{pid}")
    assert status == 200
    assert "1970" not in page and "clock not set: day 1, 00:0" in page, page
    assert "burned by the pump" in page and "not uploaded" not in page, page
    status, csv = c.get(f"/patients/{pid}/days.csv")
    assert status == 200 and "clock not set: day 2" in csv and "1970" not in csv, csv
