"""The patient page for uploads whose time stamps span far more than their records (a boot
whose clock was never set before one that was, a forged time far ahead, records days apart
for decades), through the real service on SQLite and PostgreSQL: the plots' axis and the
day table follow the records, not the time stamps (long stretches without records cut out
and said, as in the pumpctl report), so the page comes quickly, never reads 1970, and one
upload cannot make the service allocate without bound. Before, such a page made hundreds of
thousands of hourly bins and 20,000 day rows from 90 minutes of records."""

from __future__ import annotations

import csv
import io
import re
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from conftest import PASSWORD, Site
from review_web import Client, Server
from sqlalchemy import select

from pump import events, logrec
from pumphost.logs import plogfile, synth, timeaxis
from pumphost.logs.plogfile import Ident
from pumphost.review import analysis, db, plots, queries
from pumphost.review.client import upload

UG_PER_MIN = 2266 * 500 / 1e6  # a DELIVERED record a minute of 2266 nL at 500 ug/mL


def _uploaded(server: Server, site: Site, tmp: Path, entries: bytes) -> tuple[Client, int]:
    p = tmp / "p.plog"
    plogfile.write(p, entries, Ident("N-1"))
    upload(p, server.base, site.tokens["N-1"])
    c = Client(server.base)
    c.login("alice", PASSWORD)
    with server.engine.begin() as conn:
        pid = conn.execute(
            select(db.patients.c.id).where(db.patients.c.code == "N-001")
        ).scalar_one()
    return c, pid


def _timeline(server: Server, pid: int) -> analysis.Timeline:
    with server.engine.begin() as conn:
        recs, _ = queries.patient_records(conn, pid)
    return analysis.timeline(recs)


def _page(c: Client, pid: int, within_s: float) -> str:
    t = time.monotonic()
    status, page = c.get(f"/patients/{pid}")
    took = time.monotonic() - t
    assert status == 200, page
    assert took < within_s, f"the page took {took:.1f} s"
    return page


def _rows(page: str, table_id: str) -> list[str]:
    body = page[page.index(f'id="{table_id}"') :]
    return re.findall(r"<tr><td>([^<]*)</td>", body[: body.index("</table>")])


def _gaps(page: str) -> str:
    body = page[page.index('id="gaps"') :]
    return re.sub(r"<[^>]+>", " ", body[: body.index("</ul>")])


def test_a_boot_whose_clock_was_never_set_before_one_that_was(
    server: Server, site: Site, tmp_path: Path
) -> None:
    # Before: the page's axis ran from 1970 to 2026 (494,446 hourly bins, the figures alone
    # over a minute), "20601.88 days" and 20,602 day rows, one a calendar day since 1970.
    c, pid = _uploaded(server, site, tmp_path, synth.unset_then_set_clock())
    page = _page(c, pid, within_s=15)
    assert "1970" not in page
    record = page[page.index("<th>record</th>") :].split("</tr>")[0]
    assert "clock not set: day 1, 00:00 to 2026-05-28" in record, record
    assert float(re.search(r'id="days">([\d.]+)<', page).group(1)) < 0.1  # 90 minutes
    assert abs(float(re.search(r'id="delivered">([\d.]+)<', page).group(1))
               - 90 * UG_PER_MIN) < 0.1  # fmt: skip
    # the day table: the unset boot's day of the record, then the set boot's calendar day
    days = _rows(page, "days-table")
    assert days == ["clock not set: day 1", "2026-05-28"], days
    gaps = _gaps(page)
    assert "clock not set: day 1, 00:45 to 2026-05-28" in gaps, gaps
    assert "how long not known (the clock was not set on one side)" in gaps, gaps
    # every plot: the stretch cut out, said under its axis (text in the SVG), ticks of the
    # unset boot's day 1, then the first after the cut with its whole date
    assert page.count("not counting 1 stretch of time without records (dashed line)") == 3
    assert page.count(">day 1</text>") >= 3 * 3 and page.count(">2026-05-28</text>") == 3
    _, text = c.get(f"/patients/{pid}/days.csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["date"] for r in rows] == days
    assert abs(sum(float(r["delivered_ug"]) for r in rows) - 90 * UG_PER_MIN) < 0.2, rows
    tl = _timeline(server, pid)
    edges, dl, pr = analysis.per_hour(tl)
    assert len(dl) <= 3 and abs(dl.sum() - 90 * UG_PER_MIN) < 0.1
    assert abs(pr.sum() - 2 * 45 * 136 * 500 / 1e3 / 60) < 2 * UG_PER_MIN  # each boot's 45 min


def test_a_forged_time_far_ahead_is_cut_out_and_said(
    server: Server, site: Site, tmp_path: Path
) -> None:
    # One sector's anchor re-packed (CRC valid) with UTC in 2088: its records jump 63 years
    # ahead. Before: 553,000 hourly bins and 23,000 day rows.
    e = bytearray(synth.octreotide(3000))
    o = logrec.PER_SECTOR * logrec.ENTRY  # the second sector's anchor
    code, x, a, b = logrec.unpack(e, o + 4)
    assert code == events.TIME
    logrec.pack(e, o + 4, bytearray(12), logrec.PER_SECTOR, code, x, 2**31 - 1, b)
    c, pid = _uploaded(server, site, tmp_path, bytes(e))
    page = _page(c, pid, within_s=15)
    gaps = _gaps(page)
    assert re.search(r"no record for 6\d\.\d years", gaps), gaps
    assert len(_rows(page, "days-table")) <= 6  # two days of records, and the forged one's
    assert "2088-" in page
    tl = _timeline(server, pid)
    edges, dl, _ = analysis.per_hour(tl)
    assert len(dl) <= 3 * 24
    assert len(tl.axis.cut_at) == 1 and not tl.axis.cut_unknown.any()


def test_the_axis_stays_bounded_however_far_apart_the_records(
    server: Server, site: Site, tmp_path: Path
) -> None:
    # 4,000 records 6 days apart (each under the week a stretch must last to be cut): 65
    # years. The axis stops at MAX_H hours, cutting the longest stretches; the day table
    # lists the days of the stretches kept, the gap list the first stretches cut.
    n = 4_000
    recs = []
    for i in range(n):
        recs += [(events.TIME, 0, i * 6 * 86400, 0), (events.DELIVERED, 0, i, i)]
    c, pid = _uploaded(server, site, tmp_path, synth.entries(recs))
    page = _page(c, pid, within_s=30)
    tl = _timeline(server, pid)
    assert 0 < tl.axis.span_h <= timeaxis.MAX_H
    edges, dl, _ = analysis.per_hour(tl)
    assert len(dl) <= timeaxis.MAX_H + 2
    days = _rows(page, "days-table")
    assert len(days) <= timeaxis.MAX_H / 24 + 2 * n, len(days)
    assert len(days) == len(set(days))
    assert "and 3" in _gaps(page) and "more stretches" in _gaps(page)


def test_a_plot_of_a_record_with_nothing_cut_is_as_before() -> None:
    # Two days, the clock set: nothing cut, hourly bins on the clock's whole hours, the
    # dates as before.
    t0 = 1_780_000_000 + 1234
    recs = [
        analysis.Rec(1, 0, events.PROGRAM, 1632, 500, t0),
        analysis.Rec(1, 1, events.RATE, 136_000, 1, t0),
        analysis.Rec(1, 2, events.START, 0, 0, t0),
        analysis.Rec(1, 3, events.STOP, 0, 0, t0 + 2 * 86400),
    ]
    tl = analysis.timeline(recs)
    edges, _, pr = analysis.per_hour(tl)
    assert edges[0] == t0 - t0 % 3600 and (edges % 3600 == 0).all() and edges[-1] >= tl.t1
    assert len(tl.axis.cut_at) == 0 and tl.days == 2.0
    fig = plots.dose_figure(tl, ZoneInfo("Europe/London"))
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert "clock not set" not in fig.axes[0].get_xlabel() and any("May" in x for x in labels)
