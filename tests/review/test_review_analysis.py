"""The timeline arithmetic on hand-made records (no database): programmed against delivered,
a bolus, pauses, alarm durations, a gap while running, days in a zone with a DST change."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from pump import events
from pumphost.logs import plogfile, report
from pumphost.review import analysis as an
from pumphost.review.decode import decode
from pumphost.sim import scenario
from pumphost.sim.emulator import Emulator, Result

T0 = 1_806_624_000  # 2027-04-02T00:00Z


def rec(seq: int, code: int, t: int, a: int = 0, b: int = 0) -> an.Rec:
    return an.Rec(1, seq, code, a, b, T0 + t)


def test_timeline_figures_from_records() -> None:
    h = 3600
    recs = [
        rec(0, events.LOAD, 0, 1, 10_000_000),
        rec(1, events.PROGRAM, 0, 1200, 500),
        rec(2, events.RATE, 0, 100_000, 1),  # 0.1 mL/h = 50 ug/h at 500 ug/mL
        rec(3, events.START, 0),
        rec(4, events.DELIVERED, h, 100_000, 2420),
        rec(5, events.PAUSE, h),
        rec(6, events.ALARM, h, 7, events.ALARM_RAISED),
        rec(7, events.ALARM, h + 600, 7, events.ALARM_CLEARED),
        rec(8, events.RESUME, 2 * h),
        rec(9, events.PROGRAM, 2 * h, 1800, 500),
        rec(10, events.RATE, 2 * h, 150_000, 1),
        # a 10 ug bolus at 1.2 mL/h for 60 s, as the firmware logs it: the boosted rate, the
        # BOLUS record, and the program's rate when it ends
        rec(11, events.RATE, 2 * h, 1_350_000, 1),
        rec(12, an.BOLUS, 2 * h, 20_000, 60_000),
        rec(13, events.RATE, 2 * h + 60, 150_000, 1),
        rec(14, events.DELIVERED, 4 * h, 420_000, 10_000),  # 2 h running without a record
        rec(15, events.STOP, 4 * h, 10_000, 0),
    ]
    tl = an.timeline(recs)
    assert [(a - T0, b - T0) for a, b in tl.pauses] == [(h, 2 * h)]
    assert [(a.kind, a.duration_s) for a in tl.alarms] == [("occlusion", 600)]
    assert tl.boluses == [(T0 + 2 * h, 20_000, 60_000)]
    assert [(a - T0, b - T0) for a, b, _ in tl.gaps] == [(0, h), (2 * h + 60, 4 * h)]
    # programmed: 1 h at 50 ug/h, the 10 ug bolus once (the basal goes on under it), 2 h at
    # 75 ug/h
    assert abs(tl.pug[-1] - (50 + 10 + 150)) < 1e-9
    assert abs(tl.dug[-1] - 420_000 * 500 / 1e6) < 1e-9  # 210 ug delivered
    f = an.figures(tl)
    assert (f.start_dose, f.escalated, f.escalated_dose, f.hours_to_escalation, f.alarms) == (
        1200, True, 1800, 2.0, 1)  # fmt: skip


def test_a_bolus_cut_short_in_an_older_log_takes_the_rate_before_it_back() -> None:
    """Before issue 19 a pause that cut a bolus short wrote no RATE record: the last one is
    the boosted rate, and the resume went on at the rate logged before the boost. A log from
    then still counts that way, in the review and the pumpctl report; a newer log says the
    same with a RATE record after the PAUSE."""
    h = 3600
    old = [
        (events.PROGRAM, 0, 1632, 500),
        (events.RATE, 0, 136_000, 1),
        (events.START, 0, 0, 0),
        (events.RATE, h, 1_136_000, 1),  # the bolus: 0.1 mL at 1 mL/h over the basal
        (an.BOLUS, h, 100_000, 360_000),
        (events.PAUSE, h + 180, 0, 0),  # 3 min into it
        (events.RESUME, 2 * h, 0, 0),
        (events.STOP, 4 * h, 0, 0),
    ]
    new = old[:6] + [(events.RATE, h + 180, 136_000, 1)] + old[6:]
    nl = 136_000 * 3 + 1_136_000 * 0.05  # 3 h at 0.136 mL/h, the bolus's first 3 min
    for recs in (old, new):
        tl = an.timeline([rec(i, c, t, a, b) for i, (c, t, a, b) in enumerate(recs)])
        assert abs(tl.pug[-1] - nl * UG_PER_NL) < 1e-9
        assert tl.rates[-1] == (T0 + h + 180, 0.136)
        code, t, a, b = (np.array(col, dtype=np.int64) for col in zip(*recs, strict=True))
        n = len(recs)
        d = report.Decoded(np.arange(n), code, a, b, T0 + t, True, np.ones(n, dtype=bool))
        assert abs(report._programmed(d, (T0 + t).astype(float))[-1] - nl) < 1e-6


def test_a_pause_record_carries_the_delivered_count() -> None:
    """A PAUSE record carries the steps delivered, to the step (issue 18): the timeline takes
    the volume at the pause from it, not from the last minute's DELIVERED record. An older
    log's 0 there changes nothing."""
    recs = [
        rec(0, events.LOAD, 0, 1, 10_000_000),
        rec(1, events.PROGRAM, 0, 1632, 500),
        rec(2, events.RATE, 0, 136_000, 1),
        rec(3, events.START, 0),
        rec(4, events.DELIVERED, 60, 2_270, 55),  # 41.27 nL a step
        rec(5, events.PAUSE, 90, 80),
        rec(6, events.RESUME, 120),
        rec(7, events.PAUSE, 130, 0),  # as older firmware wrote it
    ]
    tl = an.timeline(recs)
    at_pause = tl.dug[tl.dt.index(T0 + 90)]
    assert abs(at_pause - round(80 * 2_270 / 55) * 500 / 1e6) < 1e-9
    assert tl.dug[-1] == at_pause


def test_days_follow_the_sites_zone_across_a_dst_change() -> None:
    # Europe/London moves to summer time on 2027-03-28: that local day has 23 hours.
    t0 = 1_806_019_200  # 2027-03-26T00:00Z, four days on
    recs = [
        an.Rec(1, 0, events.PROGRAM, 1440, 500, t0),
        an.Rec(1, 1, events.RATE, 120_000, 1, t0),  # 60 ug/h
        an.Rec(1, 2, events.START, 0, 0, t0),
        an.Rec(1, 3, events.STOP, 0, 0, t0 + 4 * 86400),
    ]
    days = an.per_day(an.timeline(recs), ZoneInfo("Europe/London"))
    by_date = {d.date: round(d.programmed_ug) for d in days}
    assert by_date["2027-03-28"] == 23 * 60
    assert by_date["2027-03-27"] == 24 * 60
    assert sum(by_date.values()) == 4 * 24 * 60


def test_the_vectorised_decoder_matches_the_record_reader() -> None:
    """Boots with the clock set, not set, and set late; anchors per sector: the upload's
    decoder gives what pumphost.logs.records.rows gives, back-filled per boot."""
    from pump.logring import LogRing
    from pumphost.logs.nor import NorFlash
    from pumphost.logs.records import rows
    from pumphost.review.decode import decode

    flash = NorFlash(6 * 4096)
    entries = bytearray()
    for boot, utc in enumerate((1_800_000_000, None, 1_800_500_000)):
        ring = LogRing(flash, 0, log_id=3)
        if utc is not None and boot != 2:
            ring.set_utc(utc)
        for i in range(400):
            tick = i * 7_000_000
            ring.add(tick, events.DELIVERED, i, i)
            ring.service(tick)
            if boot == 2 and i == 200:
                ring.set_utc(utc)  # the clock set half-way through a boot
    seq = 0
    while page := ring.read(seq, 128):
        entries += page
        seq = int.from_bytes(page[-20:-16], "little") + 1
    data = bytes(entries)
    ref = rows(data, internal=True)
    first: dict[int, int] = {}
    for r in ref:  # the back-fill: a boot's records share its first UTC offset
        if r.utc and r.uptime_s >= 0:
            first.setdefault(r.boot, r.t_s - r.uptime_s)
    want = [
        (r.seq, r.code, r.a, r.b, r.uptime_s,
         first[r.boot] + r.uptime_s if not r.utc and r.boot in first else r.t_s)
        for r in ref
    ]  # fmt: skip
    got = decode(data)
    assert len(got.raw) == len(ref) > 1000
    cols = (got.seq, got.code, got.a, got.b, got.uptime, got.t)
    assert list(zip(*(c.tolist() for c in cols), strict=True)) == want


def test_a_24h_record_shows_its_24h_dose() -> None:
    # One day at 1,632 µg/24 h (0.136 mL/h at 500 µg/mL), a DELIVERED record a minute: the
    # per-24 h axis holds the day's one rolling point, visible (marked) and inside its limits.
    from pumphost.review import plots

    recs = [
        rec(0, events.LOAD, 0, 1, 10_000_000),
        rec(1, events.PROGRAM, 0, 1632, 500),
        rec(2, events.RATE, 0, 136_000, 1),
        rec(3, events.START, 0),
    ]
    recs += [rec(3 + m, events.DELIVERED, 60 * m, 136_000 * m // 60, 0) for m in range(1, 1441)]
    recs.append(rec(1444, events.STOP, 86400))
    tl = an.timeline(recs)
    fig = plots.dose_figure(tl, ZoneInfo("UTC"))
    ax, ax2 = fig.axes
    assert ax.get_ylabel() == "µg per hour" and ax2.get_ylabel() == "µg per 24 h"
    (line,) = ax2.lines
    ys = list(line.get_ydata())
    assert len(ys) == 1 and abs(ys[0] - 1632) < 0.01
    assert line.get_marker() not in (None, "None", "", " ")  # one point: a marker shows it
    lo, hi = ax2.get_ylim()
    assert lo == 0 and ys[0] < hi
    assert hi == 24 * ax.get_ylim()[1]  # a bar of 68 µg per hour reads as 1,632 per 24 h


SCENARIOS = Path(__file__).resolve().parents[2] / "host_tools" / "scenarios"
UG_PER_NL = 500 / 1e6  # octreotide at 500 ug/mL


def _emulated(sc: scenario.Scenario, tmp_path: Path) -> tuple[Result, bytes]:
    emu = Emulator(sc, log=True)
    res = emu.run()
    emu.save_log(tmp_path / "run.plog")
    return res, plogfile.read(tmp_path / "run.plog").data


def _timeline(data: bytes) -> an.Timeline:
    """The records as the review service reads them back (queries.patient_records)."""
    r = decode(data)
    cols = (r.seq, r.code, r.a, r.b, r.t)
    rows = zip(*(c.tolist() for c in cols), strict=True)
    recs = [an.Rec(1, s, c, a, b, t) for s, c, a, b, t in rows if c < events.TIME]
    return an.timeline(sorted(recs, key=lambda x: (x.t, x.seq)))


def test_programmed_counts_each_bolus_once_and_not_a_skipped_hour(tmp_path: Path) -> None:
    """The protocol's 72 h on the emulator: two 50 ug boluses, each logged as the boosted
    rate, a BOLUS record and the program's rate after it, and the clock set an hour forward
    at 30 h. Programmed is what the emulator's oracle integrated, the same as the pumpctl
    report's, and per day what was delivered (it counted each bolus twice, and the hour
    the clock skipped)."""
    sc = scenario.load(SCENARIOS / "octreotide-titration-protocol.toml")
    res, data = _emulated(sc, tmp_path)
    tl = _timeline(data)
    assert len(tl.boluses) == 2
    truth = float(res.programmed_nl) * UG_PER_NL  # 5,531 ug
    tot = report.totals(report.decode(data))
    assert abs(tl.pug[-1] - truth) < 0.01
    assert abs(float(tot.prog_ug[-1] - tot.prog_ug[0]) - truth) < 0.01
    days = an.per_day(tl, ZoneInfo("UTC"))
    assert abs(days[0].programmed_ug - (1632 + 50)) < 0.01  # a full day and one bolus
    step_ug = 2 * float(res.nl_per_step) * UG_PER_NL
    for d in days:
        assert abs(d.programmed_ug - d.delivered_ug) < step_ug, d


def test_a_bolus_cut_short_by_a_pause_ends_its_boosted_rate(tmp_path: Path) -> None:
    """Paused during a bolus and resumed: the pump runs at the program's rate, not the
    boosted one (a RATE record after the PAUSE says so). Programmed is the emulator's oracle (the
    bolus's first 3 min, the basal while running) in the review and the pumpctl report."""
    res, data = _emulated(scenario.load(SCENARIOS / "octreotide-bolus-paused.toml"), tmp_path)
    truth = float(res.programmed_nl) * UG_PER_NL
    assert abs(truth - (0.136 * (4 - 0.95) + 0.05) * 500) < 0.01  # 232.4 ug
    tl = _timeline(data)
    tot = report.totals(report.decode(data))
    assert abs(tl.pug[-1] - truth) < 0.01
    assert abs(float(tot.prog_ug[-1] - tot.prog_ug[0]) - truth) < 0.01
    step_ug = 2 * float(res.nl_per_step) * UG_PER_NL
    assert abs(tl.pug[-1] - tl.dug[-1]) < step_ug
