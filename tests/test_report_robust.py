"""The HTML report (pumpctl logs report) on logs whose time stamps span far more than their
records (a boot whose clock was never set before one that was, a forged time, records with no
anchor before them) and on logs with next to nothing in them: a page, with an axis bounded by
the records, not by the time stamps, and "clock not set" rather than 1970."""

from __future__ import annotations

import re

from pump import events, logrec
from pumphost.logs import filefuzz, plogfile, report, synth


def _visible(page: str) -> str:
    return re.sub(r"<[^>]+>", " ", page.split("</style>")[1])


def _hourly_bins(fig) -> int:  # noqa: ANN001 - a matplotlib Figure
    return max(len(p.get_data()[0]) for p in fig.axes[0].patches)


def test_a_boot_whose_clock_was_never_set_before_one_that_was() -> None:
    # Before: the axis ran from 1970 to 2026 (494,000 hourly bins, about 40-60 s for 100
    # records, an unreadable plot) and "programmed" ran the rate through the 56 years.
    e = synth.unset_then_set_clock()
    d = report.decode(e)
    with filefuzz.memory_limit(300), filefuzz.time_limit(20):
        figs = dict(report.figures(d))
        page = report.build(e, "p", "octreotide", "clean")
    assert 95 < len(d.seq) < 110 and not d.clock.all() and d.clock.any()
    for name, fig in figs.items():
        lo, hi = fig.axes[0].get_xlim()
        assert lo == 0 and hi < 2, (name, hi)  # 90 minutes of records: under 2 h of axis
        label = fig.axes[0].get_xlabel()
        assert label.startswith("hours since clock not set: day 1, 00:00"), label
        assert "1 stretch of time without records" in label
        assert len(fig.axes[0].collections) >= 1  # the dashed line where it is cut
    assert _hourly_bins(figs["Dose"]) == 2
    text = _visible(page)
    assert "1970" not in text
    period = text.split("period")[1].split("delivered")[0]
    assert "clock not set: day 1, 00:00 to 2026-" in period, period
    assert "how long not known (the clock was not set on one side)" in period
    # programmed: each boot's 45 minutes at 136 µL/h, not the years between them
    tot = report.totals(d)
    assert abs(tot.programmed_nl() - 2 * 45 * 136000 / 60) < 2 * 2266, tot.programmed_nl()
    assert abs(tot.delivered_nl() - 2 * 45 * 2266) < 2266


def test_a_forged_time_far_ahead_is_cut_out_and_said() -> None:
    # One sector's anchor re-packed (CRC valid) with UTC in 2088: its records jump 63 years
    # ahead (and the next sector's back). The axis, in time order, keeps the records' hours
    # (that sector's at its end) and says what it left out.
    e = bytearray(synth.octreotide(600))
    o = logrec.PER_SECTOR * logrec.ENTRY  # the second sector's anchor
    code, x, a, b = logrec.unpack(e, o + 4)
    assert code == events.TIME
    logrec.pack(e, o + 4, bytearray(12), logrec.PER_SECTOR, code, x, 2**31 - 1, b)
    with filefuzz.memory_limit(300), filefuzz.time_limit(20):
        page = report.build(bytes(e), "p", "d", "NOT VERIFIED")
    real = report.totals(report.decode(synth.octreotide(600)))
    tot = report.totals(report.decode(bytes(e)))
    assert len(tot.axis.cut_at) == 1 and real.span_h < tot.span_h < real.span_h + 4.5
    assert not tot.axis.cut_unknown.any()
    assert "leave out 1 stretch of time without records (dashed line)" in _visible(page)
    assert re.search(r"at \d+\.\d\d h, 6\d\.\d years", _visible(page))


def test_the_axis_stays_bounded_however_far_apart_the_records() -> None:
    # 4,000 records 6 days apart (each under the week a stretch must last to be cut): 65
    # years, 576,000 hours. The axis stops at MAX_H hours, cutting the longest stretches.
    n = 4_000
    recs = []
    for i in range(n):
        recs += [(events.TIME, 0, i * 6 * 86400, 0), (events.ALARM, 0, 7, 1)]
    raw = filefuzz.sealed(synth.entries(recs))
    assert filefuzz.checked(raw, page=True) == []  # every reader, page too, within limits
    tot = report.totals(report.decode(plogfile.parse(raw, "f").data))
    assert 0 < tot.span_h <= report.MAX_H and len(tot.axis.cut_at) > 0


def test_records_before_the_first_anchor_are_timed_at_it_not_at_1970() -> None:
    # filefuzz seed 20300: the opening anchor damaged, a BOOT before any anchor, then an
    # anchor, a program and a rate. Before: ValueError from the plot (an empty series of
    # points made into one µg value), and the BOOT at 1970.
    ent = synth.entries([
        (events.BOOT, 0, events.CAUSE_POWER_ON, -1),
        (events.TIME, logrec.OPENED, 155_000_000, 0),
        (events.PROGRAM, 0, 1632, 500),
        (events.RATE, 0, 136000, 1),
    ])  # fmt: skip
    d = report.decode(ent)
    assert list(d.t) == [logrec.LOG_EPOCH + 155_000_000] * 3 and d.clock.all()
    page = report.build(ent, "p", "d", "clean")
    text = _visible(page)
    assert "1970" not in text and "(0.00 h)" in text.split("period")[1]
    assert "0.000 mL" in text.split("delivered")[1]


def test_a_page_for_logs_with_next_to_nothing_in_them() -> None:
    # No DELIVERED, no LOAD, only a BOOT, only an alarm (an action no legend knows), only a
    # count with no program, a clock never set: each still a page.
    anchor = (events.TIME, logrec.OPENED, -1, 0)
    logs = {
        "only an anchor": [anchor],
        "only a boot": [anchor, (events.BOOT, 0, events.CAUSE_POWER_ON, -1)],
        "a boot, no anchor": [(events.BOOT, 0, events.CAUSE_POWER_ON, -1)],
        "a program, nothing delivered": [anchor, (events.PROGRAM, 0, 1632, 500)],
        "a load, nothing delivered": [anchor, (events.LOAD, 5, 1, 10_000_000)],
        "a count, no program": [anchor, (events.DELIVERED, 60, 2266, 54)],
        "an odd alarm": [anchor, (events.ALARM, 3, 99, 77)],
    }
    for name, recs in logs.items():
        page = report.build(synth.entries(recs), "p", "d", "clean")
        text = _visible(page)
        assert "Pump log report" in text and "1970" not in text, name
        if recs != [anchor]:
            assert "clock not set: day 1, 00:0" in text.split("period")[1], name
