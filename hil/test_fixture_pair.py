"""The bench fixture proven on two wired virtual Picos (issue 10): the pump on its real image,
the fixture running hil/fixture/ on a plain MicroPython image, in one simulated time base
(pumphost.vboard.pair). A subset of the suite runs as on a bench, `--target serial --port PUMP
--rig FIXTURE`: every count, interval and EN edge comes from the fixture's PIO capture over
its line protocol, every load-cell sample from the HX711 its PIO plays, every reset from its
RUN pin. They must pass as they do with the virtual rig (the rest of this run).

The subset, for `make test`'s time (the pair runs paced to wall time, about 1 simulated
second per 1.5 wall seconds on two shared cores): delivery at 5 mL/h (pulse counts over three
windows, every interval to the microsecond, pause/resume against EN) and every plant-in-the-
loop alarm (test_alarms.py: the occlusion with its back-off and release bolus, the syringe
removed, the load cell open or saturated, near-empty then empty at the end of a small fill:
the switch driven and the HX711 played by the fixture's PIO, the plant following the pump in
the background, as on a bench), a power cut half-way into a log write, timed by the
fixture's PIO on the pump's MARK line, and the alarm buzzer and LED decoded per priority
(high, medium, low; test_signals.py) from the fixture's capture of their pins. Left out,
for time: the octreotide rate (65 s windows) and the other files (power cuts, resets,
protocol, REPL safety, ...); all of them run through the fixture in `make hil-bench-pair`,
about 20 minutes.
`PUMP_HIL_BENCH=all` runs the whole suite (`make hil-bench-pair`): every test the virtual rig
passes must pass, and none may skip for want of a rig capability or a port.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pumphost.vboard.pair import FIXTURE_IMAGE, VirtualPair
from pumphost.vboard.virtual import DEFAULT_IMAGE

HIL = Path(__file__).resolve().parent
SUBSET = [
    "test_delivery.py::test_pulses_match_the_programmed_volume[intermediate 5 mL/h]",
    "test_delivery.py::test_step_intervals_are_the_plan_to_the_microsecond[intermediate 5 mL/h]",
    "test_delivery.py::test_pause_and_resume_lose_or_add_nothing",
    "test_alarms.py",
    "test_log.py::test_a_power_cut_on_the_pumps_own_write_loses_nothing_committed",
    # the alarm signals decoded from the fixture's capture of the buzzer and LED pins
    "test_signals.py::test_high_priority_sounds_and_flashes_after_the_table",
    "test_signals.py::test_medium_priority_sounds_and_flashes_after_the_table",
    "test_signals.py::test_low_priority_pattern_after_the_table",
]
# The whole suite, but for this test and the 24 h run; the files that start virtual boards of
# their own skip under --target serial, as they do on a real bench.
ALL = sorted(
    p.name for p in HIL.glob("test_*.py") if p.name not in ("test_fixture_pair.py", "test_long.py")
)


def test_the_suite_passes_through_the_fixture(
    target: str, tmp_path: Path, report: list[str]
) -> None:
    if target != "virtual":
        pytest.skip("starts two virtual boards of its own: --target virtual only")
    if not FIXTURE_IMAGE.exists():
        pytest.fail(f"no plain MicroPython image at {FIXTURE_IMAGE}: run `make fidelity-image`")
    whole = os.environ.get("PUMP_HIL_BENCH") == "all"
    tests = ALL if whole else SUBSET
    junit = tmp_path / "bench.xml"
    with VirtualPair(DEFAULT_IMAGE, FIXTURE_IMAGE) as pair:
        cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]
        cmd += [str(HIL / t) for t in tests]
        cmd += ["--target", "serial", "--port", pair.url, "--rig", pair.fixture_url]
        cmd += ["--proto", pair.proto_url]
        cmd += [f"--junitxml={junit}"]
        timeout = 5400 if whole else 1800
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    out = res.stdout + res.stderr
    (tmp_path / "bench.out").write_text(out)
    outcome = _outcomes(junit)
    # A skip is fine only where the test needs the virtual target itself (it starts its own
    # boards or reads the emulator); one for a missing rig capability or port is a gap.
    gaps = {n: why for n, (v, why) in outcome.items() if v == "skipped" and not _virtual_only(why)}
    bad = {n: v for n, (v, _) in outcome.items() if v == "failed"}
    assert outcome and not bad and not gaps, (bad, gaps, out[-3000:])
    passed = sorted(n for n, (v, _) in outcome.items() if v == "passed")
    skipped = len(outcome) - len(passed)
    report.append(
        f"bench fixture on two virtual Picos: {len(passed)} tests passed through the fixture's "
        f"PIO capture, HX711 and RUN pin, {skipped} skipped (virtual target only)"
        + ("" if whole else f" ({', '.join(passed)})")
    )


def _outcomes(junit: Path) -> dict[str, tuple[str, str]]:
    """Test name -> (passed | failed | skipped, the skip's message) from pytest's junit XML."""
    result = {}
    for c in ET.parse(junit).getroot().iter("testcase"):
        module = c.get("classname", "").split(".")[-1]  # classname: "hil.test_alarms"
        name = f"{module}::{c.get('name', '')}"
        skip = c.find("skipped")
        if c.find("failure") is not None or c.find("error") is not None:
            result[name] = ("failed", "")
        elif skip is not None:
            result[name] = ("skipped", skip.get("message", ""))
        else:
            result[name] = ("passed", "")
    return result


def _virtual_only(why: str) -> bool:
    """Skips of tests that read the emulator itself (its flash image file, its control
    requests) or start boards of their own: no bench has those."""
    return any(
        s in why for s in ("--target virtual only", "virtual board only", "has no `rig.board.")
    )
