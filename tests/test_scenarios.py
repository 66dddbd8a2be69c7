"""pumpctl sim end to end: example scenarios, bad scenarios, JSON output."""

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from pump import events
from pump import rate as rates
from pumphost.logs import plogfile, report
from pumphost.review import analysis as an
from pumphost.review.decode import decode
from pumphost.sim import scenario
from pumphost.sim.emulator import Emulator

SCENARIOS = Path(__file__).resolve().parents[1] / "host_tools" / "scenarios"
GOOD = """
[pump]
board = "pico"
syringe = "bd-plastipak-10ml"
fill_ml = 5.0
[program]
concentration_ug_per_ml = 500
dose_ug_per_24h = 1632
[run]
duration_h = 24
"""


def _pumpctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from pumphost.cli import main; main()", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_octreotide_json_delivers_programmed_within_one_step() -> None:
    proc = _pumpctl("sim", "--json", str(SCENARIOS / "octreotide-24h.toml"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in ("duration_s", "programmed_ul", "delivered_ul", "steps", "state", "alarms"):
        assert key in out
    assert out["duration_s"] == 86400
    assert out["programmed_ul"] == pytest.approx(3264.0, abs=1e-6)
    assert 0 <= out["programmed_ul"] - out["delivered_ul"] < out["nl_per_step"] / 1000
    assert out["state"] == "running" and out["alarms"] == []
    assert out["log_records"] >= 2


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_example_is_exact_to_one_microstep(path: Path) -> None:
    res = Emulator(scenario.load(path)).run()
    behind = res.programmed_nl - res.delivered_nl
    assert Fraction(0) <= behind < res.nl_per_step


def test_empty_syringe_completes_with_alarm() -> None:
    res = Emulator(scenario.load(SCENARIOS / "rate-10ml-h-24h.toml")).run()
    assert res.state == "complete"
    assert res.alarm_kinds == ["near_empty", "reservoir_empty"]
    near, empty = res.alarms
    assert near["cleared_s"] == empty["raised_s"]  # the warning came true
    # 30 min before the 30 mL ran out at 10 mL/h (3 h), to the second.
    assert near["raised_s"] == pytest.approx(2.5 * 3600, abs=1)
    assert res.remaining_nl < res.nl_per_step


def _edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


BAD = {
    "unknown syringe": (_edit('"bd-plastipak-10ml"', '"bd-7ml"'), "pump.syringe"),
    "unknown board": (_edit('"pico"', '"arduino"'), "pump.board"),
    "both rate and dose": (_edit("[run]", "rate_ml_per_h = 0.1\n[run]"), "program"),
    "neither rate nor dose": (_edit("dose_ug_per_24h = 1632", ""), "program"),
    "zero rate": (_edit("dose_ug_per_24h = 1632", "rate_ml_per_h = 0.0"), "rate_ml_per_h"),
    "absurd rate": (
        _edit("dose_ug_per_24h = 1632", "rate_ml_per_h = 5000.0"),
        "program.rate_ml_per_h",
    ),
    "absurd dose": (_edit("1632", "99999999"), "program.dose_ug_per_24h"),
    "missing key": (_edit("fill_ml = 5.0", ""), "pump.fill_ml"),
    "unknown key": (_edit("fill_ml = 5.0", "fill_ml = 5.0\ncolour = 1"), "pump.colour"),
    "wrong type": (_edit("duration_h = 24", 'duration_h = "24"'), "run.duration_h"),
    "overfilled": (_edit("fill_ml = 5.0", "fill_ml = 11.0"), "pump.fill_ml"),
    "not toml": ("[pump", "TOML"),
    "fill below one microstep": (_edit("fill_ml = 5.0", "fill_ml = 0.00001"), "pump.fill_ml"),
    "rate on a pause event": (
        GOOD + '[[events]]\nat_min = 30\naction = "pause"\nrate_ml_per_h = 1.0\n',
        "events[0].rate_ml_per_h",
    ),
}


@pytest.mark.parametrize("text,key", BAD.values(), ids=BAD.keys())
def test_bad_scenario_exits_2_with_one_line_naming_the_key(
    tmp_path: Path, text: str, key: str
) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    proc = _pumpctl("sim", str(f))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert key in lines[0]
    assert "Traceback" not in proc.stderr


def test_missing_file_is_one_line() -> None:
    proc = _pumpctl("sim", "/nonexistent/x.toml")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_human_summary_names_the_program_and_its_changes() -> None:
    proc = _pumpctl("sim", str(SCENARIOS / "octreotide-titration-72h.toml"))
    assert proc.returncode == 0, proc.stderr
    assert "1632 µg/24 h at 500 µg/mL = 0.1360 mL/h" in proc.stdout
    assert "at 24 h 00 min: rate 2167 µg/24 h at 500 µg/mL" in proc.stdout
    assert "ug" not in proc.stdout.replace("plug", "")  # µg and µL, never ug or uL
    assert "uL" not in proc.stdout
    assert "state        running" in proc.stdout


def test_fill_below_one_microstep_says_so(tmp_path: Path) -> None:
    f = tmp_path / "tiny.toml"
    f.write_text(_edit("fill_ml = 5.0", "fill_ml = 0.00001"))
    proc = _pumpctl("sim", str(f))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        f"pumpctl: {f}: pump.fill_ml: 0.00001 mL is less than one microstep of this syringe "
        "(41.282 nL)"
    )


NON_FINITE = {
    "inf rate": (_edit("dose_ug_per_24h = 1632", "rate_ml_per_h = inf"), "program.rate_ml_per_h"),
    "nan rate": (_edit("dose_ug_per_24h = 1632", "rate_ml_per_h = nan"), "program.rate_ml_per_h"),
    "inf fill": (_edit("fill_ml = 5.0", "fill_ml = inf"), "pump.fill_ml"),
    "nan fill": (_edit("fill_ml = 5.0", "fill_ml = nan"), "pump.fill_ml"),
    "nan duration": (_edit("duration_h = 24", "duration_h = nan"), "run.duration_h"),
    "inf duration": (_edit("duration_h = 24", "duration_h = inf"), "run.duration_h"),
    "nan event time": (GOOD + '[[events]]\nat_min = nan\naction = "pause"\n', "events[0].at_min"),
    "inf event rate": (
        GOOD + '[[events]]\nat_min = 5\naction = "rate"\nrate_ml_per_h = inf\n',
        "events[0].rate_ml_per_h",
    ),
}


@pytest.mark.parametrize("text,key", NON_FINITE.values(), ids=NON_FINITE.keys())
def test_non_finite_numbers_exit_2_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    proc = _pumpctl("sim", str(f))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"pumpctl: {f}: {key}"), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "finite number" in proc.stderr


def _events(*events: tuple[float, str, str]) -> str:
    """GOOD (24 h) plus [[events]] tables given as (at_min, action, extra lines)."""
    tables = [f'[[events]]\nat_min = {t}\naction = "{a}"\n{x}' for t, a, x in events]
    return GOOD + "".join(tables)


BAD_EVENTS = {
    # File order, not time order: the bad rate is the first table but the second event in time.
    "bad rate names its place in the file": (
        _events((600, "rate", "rate_ml_per_h = 5000.0\n"), (30, "pause", ""), (40, "resume", "")),
        "events[0].rate_ml_per_h (1st [[events]], at_min = 600): ",
        "above the maximum",
    ),
    "resume while running": (
        _events((30, "resume", "")),
        "events[0] (1st [[events]], at_min = 30): ",
        "cannot resume while running",
    ),
    "resume after stop": (
        _events((10, "stop", ""), (20, "resume", "")),
        "events[1] (2nd [[events]], at_min = 20): ",
        "cannot resume after the stop at events[0] (at_min = 10)",
    ),
    "pause after stop": (
        _events((20, "pause", ""), (10, "stop", "")),
        "events[0] (1st [[events]], at_min = 20): ",
        "cannot pause after the stop at events[1] (at_min = 10)",
    ),
    "rate after stop": (
        _events((10, "stop", ""), (20, "rate", "rate_ml_per_h = 1.0\n")),
        "events[1] (2nd [[events]], at_min = 20): ",
        "cannot change the rate after the stop",
    ),
    "pause while paused": (
        _events((10, "pause", ""), (20.5, "pause", "")),
        "events[1] (2nd [[events]], at_min = 20.5): ",
        "cannot pause while paused",
    ),
    "stop after stop": (
        _events((10, "stop", ""), (10, "stop", "")),
        "events[1] (2nd [[events]], at_min = 10): ",
        "cannot stop after the stop",
    ),
    "event at the end": (
        _events((1440, "pause", "")),
        "events[0] (1st [[events]], at_min = 1440): ",
        "at or after the end of the run (run.duration_h = 24, 1440 min)",
    ),
    "event after the end": (
        _events((10, "pause", ""), (5000, "resume", "")),
        "events[1] (2nd [[events]], at_min = 5000): ",
        "at or after the end of the run",
    ),
    "rate event without a rate": (
        _events((10, "rate", "")),
        "events[0] (1st [[events]], at_min = 10): ",
        "needs one of rate_ml_per_h and dose_ug_per_24h",
    ),
    "negative time": (
        _events((-1, "pause", "")),
        "events[0].at_min (1st [[events]], at_min = -1): ",
        "greater than or equal to 0",
    ),
    "unknown action": (
        _events((10, "halt", "")),
        "events[0].action (1st [[events]], at_min = 10): ",
        "Input should be",
    ),
}


@pytest.mark.parametrize("text,where,why", BAD_EVENTS.values(), ids=BAD_EVENTS.keys())
def test_bad_event_is_one_line_naming_the_event_and_its_time(
    tmp_path: Path, text: str, where: str, why: str
) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    proc = _pumpctl("sim", str(f))
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith(f"pumpctl: {f}: {where}"), proc.stderr
    assert why in proc.stderr


def test_events_at_the_same_time_apply_in_file_order() -> None:
    sc = scenario.parse(
        _events((10, "pause", ""), (10, "rate", "rate_ml_per_h = 0.1\n"), (10, "resume", ""))
    )
    assert [ev.action for ev in sc.events] == ["pause", "rate", "resume"]
    res = Emulator(sc).run()
    assert res.state == "running"
    assert Fraction(0) <= res.programmed_nl - res.delivered_nl < res.nl_per_step


EMPTIES_AT_6_MIN = """
[pump]
board = "pico"
syringe = "bd-plastipak-10ml"
fill_ml = 1.0
[program]
rate_ml_per_h = 10.0
[run]
duration_h = 1
[[events]]
at_min = 30
action = "pause"
[[events]]
at_min = 40
action = "resume"
[[events]]
at_min = 3
action = "rate"
rate_ml_per_h = 20.0
"""


def test_event_after_the_syringe_emptied_is_reported_not_applied(tmp_path: Path) -> None:
    f = tmp_path / "empties.toml"
    f.write_text(EMPTIES_AT_6_MIN)
    proc = _pumpctl("sim", str(f))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "  at 0 h 03 min: rate 20 mL/h\n" in out
    assert (
        "  at 0 h 30 min: pause: not applied, the pump was already complete (reservoir_empty)"
        in out
    )
    assert "  at 0 h 40 min: resume: not applied, the pump was already complete" in out
    assert "state        complete" in out
    proc = _pumpctl("sim", "--json", str(f))
    assert proc.returncode == 0, proc.stderr
    skipped = json.loads(proc.stdout)["events_not_applied"]
    assert [(e["event"], e["at_min"], e["action"]) for e in skipped] == [
        ("events[0]", 30, "pause"),
        ("events[1]", 40, "resume"),
    ]
    assert all("already complete" in e["reason"] for e in skipped)


def test_help_promises_only_what_exists() -> None:
    proc = _pumpctl("--help")
    assert proc.returncode == 0
    listed = [line.split()[0] for line in proc.stdout.split("Commands:")[1].splitlines() if line]
    from pumphost.cli import cli

    assert listed == sorted(cli.commands)  # the help lists every command and nothing else
    assert {"sim", "logs", "vboard", "status", "bolus", "review", "cohort"} <= set(listed)
    for cmd in listed:  # every command it lists answers
        assert _pumpctl(cmd, "--help").returncode == 0


FAULTS = SCENARIOS / "faults"


def test_a_stall_that_makes_a_step_late_stops_with_step_late() -> None:
    proc = _pumpctl("sim", "--json", str(FAULTS / "step-stall-100ml-h.toml"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["state"] == "stopped"
    assert [a["kind"] for a in out["alarms"]] == ["near_empty", "step_late"]
    # Stopped by the first service step after the stall (the board's 20 ms grid): 600.32 s
    # of programme, less what the stall and that service step's wait held back.
    assert out["programmed_ul"] == pytest.approx(100_000 * 600.32 / 3600, abs=0.01)
    held_ul = 100_000 * 0.32 / 3600  # never over-delivered
    assert 0 < out["programmed_ul"] - out["delivered_ul"] <= held_ul + out["nl_per_step"] / 1000


def test_a_stall_between_two_slow_steps_goes_unnoticed(tmp_path: Path) -> None:
    # At 0.136 mL/h a step is due about every 1.1 s: a 1 ms stall right after the start
    # delays nothing, so nothing is raised and delivery stays exact.
    text = GOOD + '\n[[events]]\nat_min = 0\naction = "stall"\nduration_ms = 1\n'
    path = tmp_path / "short-stall.toml"
    path.write_text(text)
    res = Emulator(scenario.load(path)).run()
    assert res.state == "running" and res.alarms == []
    assert Fraction(0) <= res.programmed_nl - res.delivered_nl < res.nl_per_step


@pytest.mark.parametrize(
    "event,msg",
    [
        ('action = "stall"', "events[0].duration_ms (1st [[events]], at_min = 1): a stall needs"),
        (
            'action = "pause"\nduration_ms = 5',
            "events[0].duration_ms (1st [[events]], at_min = 1): only a stall takes",
        ),
        ('action = "stall"\nduration_ms = 0', "events[0].duration_ms"),
    ],
)
def test_bad_stall_events_name_the_key(tmp_path: Path, event: str, msg: str) -> None:
    path = tmp_path / "bad-stall.toml"
    path.write_text(GOOD + f"\n[[events]]\nat_min = 1\n{event}\n")
    proc = _pumpctl("sim", str(path))
    assert proc.returncode == 2 and msg in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def _kinds(out: dict[str, object]) -> list[str]:
    return [a["kind"] for a in out["alarms"]]  # type: ignore[index, union-attr]


def test_an_occlusion_alarms_within_10_ul_and_stops() -> None:
    proc = _pumpctl("sim", "--json", str(FAULTS / "occlusion-octreotide.toml"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["state"] == "paused" and _kinds(out) == ["occlusion"]
    (alarm,) = out["alarms"]
    assert alarm["priority"] == "high" and alarm["cleared_s"] is None
    # Displaced after the line blocked at 2 h: what the pump pushed until the alarm.
    displaced_ul = 136.0 * (alarm["raised_s"] - 7200) / 3600
    assert 0 < displaced_ul <= 10
    # The back-off drew the trapped volume back into the syringe: the record says so.
    backoff = out["backoff_ul"]
    assert 3 < backoff <= 15
    pushed = 136.0 * alarm["raised_s"] / 3600
    assert out["delivered_ul"] == pytest.approx(pushed - backoff, abs=0.1)
    # What flows when the line opens an hour later: what the back-off left above the patient's
    # pressure (0-1.4 uL over plant seeds 1-8) plus that pressure's own drift over the hour
    # (the plant's 0-40 mmHg, up to +-10 uL on this syringe); without a back-off, 9.7-11.7 uL.
    assert abs(out["released_bolus_ul"]) <= 10, out


def test_a_release_that_flows_back_is_not_called_a_bolus(tmp_path: Path) -> None:
    # 30 mL at 1 mL/h, plant seed 79: the patient's pressure rises about 15 mmHg between the
    # block (0.1 h) and the line opening (0.6 h), above what the back-off left in the
    # syringe. The figure is negative: infusate flows back up the line, nothing is released.
    p = tmp_path / "back.toml"
    p.write_text(
        '[pump]\nboard = "pico"\nsyringe = "bd-plastipak-30ml"\nfill_ml = 10.0\n'
        "[program]\nrate_ml_per_h = 1.0\n[run]\nduration_h = 0.65\n"
        '[plant]\nseed = 79\nceiling = "medium"\n'
        '[[fault]]\nat_h = 0.1\nkind = "occlusion"\n'
        '[[fault]]\nat_h = 0.6\nkind = "occlusion_release"\n'
    )
    out = json.loads(_pumpctl("sim", "--json", str(p)).stdout)
    back = -out["released_bolus_ul"]
    assert 5 < back < 15, out
    text = _pumpctl("sim", str(p)).stdout
    (line,) = [x for x in text.splitlines() if x.startswith("bolus")]
    assert line.startswith(f"bolus        none: {back:.2f} µL flowed back"), line
    assert "-" not in line.split("none")[1].split("µL")[0], line  # no negative bolus


@pytest.mark.parametrize(
    "name,kind,after_s",
    [
        ("syringe-removed", "syringe_removed", (0.0, 0.2)),  # the next sample, at 10 Hz
        # The board's rule (pump.loadcell): no sample for over 0.5 s (_STALE_US) since the
        # last before the break (at most 0.1 s before it), seen at the service step after
        # (0.1 s apart at 5 mL/h).
        ("sensor-open", "sensor_fault", (0.4, 0.6)),
        ("sensor-saturated", "sensor_fault", (0.0, 0.2)),  # the next sample: the clamp
    ],
)
def test_sensor_faults_stop_the_pump_with_their_alarm(
    name: str, kind: str, after_s: tuple[float, float]
) -> None:
    proc = _pumpctl("sim", "--json", str(FAULTS / f"{name}.toml"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    sc = scenario.load(FAULTS / f"{name}.toml")
    (at_s, _) = sc.faults[0]
    assert out["state"] == "stopped" and _kinds(out) == [kind]
    lo, hi = after_s
    assert lo <= out["alarms"][0]["raised_s"] - at_s <= hi


def test_a_kinked_line_is_an_occlusion_and_the_plunger_draws_back() -> None:
    proc = _pumpctl("sim", "--json", str(FAULTS / "partial-occlusion.toml"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["state"] == "paused" and _kinds(out) == ["occlusion"], out
    raised = out["alarms"][0]["raised_s"]
    assert 900 < raised < 960  # the kink at 15 min: the pressure climbs over seconds at 5 mL/h
    assert 0 < out["backoff_ul"] <= 15
    assert out["delivered_ul"] < 5000 * raised / 3600  # drawn back: below what was pushed


def test_a_small_fill_warns_near_empty_then_ends_empty_not_occluded() -> None:
    proc = _pumpctl("sim", "--json", str(FAULTS / "empty-small-fill.toml"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["state"] == "complete" and _kinds(out) == ["near_empty", "reservoir_empty"], out
    near, empty = (a["raised_s"] for a in out["alarms"])
    assert empty == pytest.approx(600 / 1000 * 3600, abs=1)  # 0.6 mL at 1 mL/h: 36 min
    assert near == pytest.approx(empty - 1800, abs=60)  # near-empty 30 min before, +-1 min
    assert "backoff_ul" not in out


def test_a_normal_day_with_the_plant_raises_nothing() -> None:
    text = GOOD.replace("duration_h = 24", "duration_h = 6") + "\n[plant]\nseed = 4\n"
    res = Emulator(scenario.parse(text, "plant-normal")).run()
    assert res.state == "running" and res.alarms == []
    assert Fraction(0) <= res.programmed_nl - res.delivered_nl < res.nl_per_step


def test_bad_faults_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad-fault.toml"
    path.write_text(GOOD + '\n[[fault]]\nat_h = 1\nkind = "gremlins"\n')
    proc = _pumpctl("sim", str(path))
    assert proc.returncode == 2 and proc.stderr.startswith("pumpctl: ")
    assert "fault.0.kind" in proc.stderr


def test_a_step_due_during_a_bolus_is_in_force_after_a_pause_cuts_it(tmp_path: Path) -> None:
    """A titration step to 2,167 ug/24 h at 62 min, 2 min into a bolus given at 60 min; the
    pause at 63 min ends the bolus. The resume at 2 h runs at 2,167 (it ran at 1,632 until
    the end of a later bolus), and the log says so: a RATE record at the pause. The review
    and the pumpctl report then count what the emulator's oracle counted."""
    text = (SCENARIOS / "octreotide-bolus-paused.toml").read_text()
    old = '"max_24h_ug": 3000, '
    step = '{"max_dose_ug_24h": 2500, "steps": [{"at_min": 62, "dose_ug_24h": 2167}]}'
    assert text.count(old) == 1
    emu = Emulator(scenario.parse(text.replace(old, old + f'"titration": {step}, ')), log=True)
    res = emu.run()
    assert all(resp["ok"] for _, _, resp in emu.responses), emu.responses
    assert emu.pump.program_rate == rates.from_dose(2167, 500)
    # The oracle: 1 h of 0.136 mL/h, 3 min of the bolus (1 mL/h on top), 2 h at 2,167 ug/24 h.
    nl = 136_000 + 1_136_000 * 0.05 + 2167 / 500 / 24 * 1e6 * 2
    assert abs(float(res.programmed_nl) - nl) < 1e-6
    assert Fraction(0) <= res.programmed_nl - res.delivered_nl < res.nl_per_step
    emu.save_log(tmp_path / "run.plog")
    data = plogfile.read(tmp_path / "run.plog").data
    d = report.decode(data)
    codes = [int(c) for c in d.code if c not in (events.DELIVERED, events.TIME)]
    i = codes.index(events.PAUSE)
    assert codes[i + 1] == events.RATE
    rate = [(int(a), int(b)) for c, a, b in zip(d.code, d.a, d.b, strict=True) if c == events.RATE]
    assert rate[-1] == rates.from_dose(2167, 500)  # the last RATE is what the pump runs
    # The review service and the report (their programmed: the rate over running time).
    r = decode(data)
    rows = zip(*(c.tolist() for c in (r.seq, r.code, r.a, r.b, r.t)), strict=True)
    recs = [an.Rec(1, s, c, a, b, t) for s, c, a, b, t in rows if c < events.TIME]
    tl = an.timeline(sorted(recs, key=lambda x: (x.t, x.seq)))
    ug = float(res.programmed_nl) * 500 / 1e6  # 276.98 ug
    assert abs(tl.pug[-1] - ug) < 0.01
    tot = report.totals(d)
    assert abs(tot.programmed_nl() - float(res.programmed_nl)) < 1
    assert abs(float(tot.prog_ug[-1] - tot.prog_ug[0]) - ug) < 0.01


def test_after_the_vtbi_a_titration_step_leaves_the_pump_at_kvo(tmp_path: Path) -> None:
    """1,632 ug/24 h with a VTBI of 0.0136 mL (6 min), then KVO 0.01 mL/h, and a titration
    step to 2,167 ug/24 h at 30 min. The step comes due after the end: it is skipped, the
    pump runs on at KVO, and the emulator's oracle, the review and the pumpctl report all
    count 0.0136 mL plus 1.9 h of KVO."""
    prog = {
        "drug": "octreotide", "conc_ug_ml": 500, "dose_ug_24h": 1632, "vtbi_ml": "0.0136",
        "then": "kvo", "kvo_ml_h": "0.01",
        "titration": {"max_dose_ug_24h": 2500, "steps": [{"at_min": 30, "dose_ug_24h": 2167}]},
    }  # fmt: skip
    lines = [
        {"id": 1, "cmd": "pin.change", "args": {"new": "2468"}},
        {"id": 2, "cmd": "program.validate", "args": {"program": prog}},
        {"id": 3, "cmd": "program.set", "args": {"token": "$TOKEN"}, "pin": "2468"},
        {"id": 4, "cmd": "start"},
        {"id": 5, "cmd": "status"},
    ]
    text = '[pump]\nserial = "PUMP-DEMO"\nboard = "pico"\nsyringe = "bd-plastipak-20ml"\n'
    text += "fill_ml = 12.0\n[run]\nduration_h = 2\n"
    for i, line in enumerate(lines):
        text += f"[[command]]\nat_h = {1.0 if i == 4 else 0.0}\nline = '{json.dumps(line)}'\n"
    emu = Emulator(scenario.parse(text), log=True)
    res = emu.run()
    assert all(resp["ok"] for _, _, resp in emu.responses), emu.responses
    st = emu.responses[-1][2]["result"]
    assert st["end_of_infusion"] and st["titration_step"] == 0
    assert emu.pump.program_rate == rates.from_ml_per_h(1, 100)
    nl = 13_600 + 10_000 * 1.9  # the VTBI (to a whole step), then 1.9 h of KVO
    step = float(res.nl_per_step)
    assert abs(float(res.programmed_nl) - nl) < step
    assert abs(float(res.programmed_nl - res.delivered_nl)) < step
    emu.save_log(tmp_path / "run.plog")
    data = plogfile.read(tmp_path / "run.plog").data
    d = report.decode(data)
    names = [int(c) for c in d.code if c not in (events.DELIVERED, events.TIME)]
    assert names[names.index(events.INFUSION_END) + 1 :] == []  # nothing after the end
    r = decode(data)
    rows = zip(*(c.tolist() for c in (r.seq, r.code, r.a, r.b, r.t)), strict=True)
    recs = [an.Rec(1, s, c, a, b, t) for s, c, a, b, t in rows if c < events.TIME]
    tl = an.timeline(sorted(recs, key=lambda x: (x.t, x.seq)))
    ug = nl * 500 / 1e6  # 16.3 ug
    assert abs(tl.pug[-1] - ug) < step * 500 / 1e6
    tot = report.totals(d)
    assert abs(tot.programmed_nl() - nl) < step
    assert abs(float(tot.prog_ug[-1] - tot.prog_ug[0]) - ug) < step * 500 / 1e6


def test_a_program_set_while_paused_runs_its_steps_from_the_resume(tmp_path: Path) -> None:
    """The way on after the VTBI (PROTOCOL.md): 1,632 ug/24 h with a VTBI of 0.0136 mL, then
    KVO 0.01 mL/h; at 1 h pause and set 1,632 ug/24 h with a titration step to 2,167 at
    30 min; resume at 1.25 h. The step comes 30 min after the resume, not never: the
    emulator's oracle, the review and the pumpctl report all count 13.6 uL, 0.9 h of KVO,
    0.5 h at 1,632 and 1.25 h at 2,167."""
    prog = {"drug": "octreotide", "conc_ug_ml": 500, "dose_ug_24h": 1632}
    first = dict(prog, vtbi_ml="0.0136", then="kvo", kvo_ml_h="0.01")
    step = {"at_min": 30, "dose_ug_24h": 2167}
    then = dict(prog, titration={"max_dose_ug_24h": 2500, "steps": [step]})
    cmds = [
        (0, "pin.change", {"args": {"new": "2468"}}),
        (0, "program.validate", {"args": {"program": first}}),
        (0, "program.set", {"args": {"token": "$TOKEN"}, "pin": "2468"}),
        (0, "start", {}),
        (1, "pause", {}),
        (1, "program.validate", {"args": {"program": then}}),
        (1, "program.set", {"args": {"token": "$TOKEN"}, "pin": "2468"}),
        (1.25, "resume", {}),
        (2.99, "status", {}),
    ]
    text = '[pump]\nserial = "PUMP-DEMO"\nboard = "pico"\nsyringe = "bd-plastipak-20ml"\n'
    text += "fill_ml = 12.0\n[run]\nduration_h = 3\n"
    for i, (at, cmd, rest) in enumerate(cmds):
        line = json.dumps({"id": i + 1, "cmd": cmd, **rest})
        text += f"[[command]]\nat_h = {at}\nline = '{line}'\n"
    emu = Emulator(scenario.parse(text), log=True)
    res = emu.run()
    assert all(resp["ok"] for _, _, resp in emu.responses), emu.responses
    st = emu.responses[-1][2]["result"]
    assert not st["end_of_infusion"] and st["titration_step"] == 1
    assert emu.pump.program_rate == rates.from_dose(2167, 500)
    nl = 13_600 + 10_000 * 0.9 + 136_000 * 0.5 + 2167 / 500 / 24 * 1e6 * 1.25  # 316.3 uL
    step_nl = float(res.nl_per_step)
    assert abs(float(res.programmed_nl) - nl) < step_nl  # before the fix: 260.6 uL
    assert Fraction(0) <= res.programmed_nl - res.delivered_nl < res.nl_per_step
    emu.save_log(tmp_path / "run.plog")
    data = plogfile.read(tmp_path / "run.plog").data
    d = report.decode(data)
    rate = [(int(a), int(b)) for c, a, b in zip(d.code, d.a, d.b, strict=True) if c == events.RATE]
    assert rate[-1] == rates.from_dose(2167, 500)  # the last RATE is what the pump runs
    r = decode(data)
    rows = zip(*(c.tolist() for c in (r.seq, r.code, r.a, r.b, r.t)), strict=True)
    recs = [an.Rec(1, s, c, a, b, t) for s, c, a, b, t in rows if c < events.TIME]
    tl = an.timeline(sorted(recs, key=lambda x: (x.t, x.seq)))
    ug = float(res.programmed_nl) * 500 / 1e6  # 158.2 ug
    assert abs(tl.pug[-1] - ug) < step_nl * 500 / 1e6
    tot = report.totals(d)
    assert abs(tot.programmed_nl() - float(res.programmed_nl)) < step_nl
    assert abs(float(tot.prog_ug[-1] - tot.prog_ug[0]) - ug) < step_nl * 500 / 1e6
