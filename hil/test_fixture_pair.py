"""The bench fixture proven on two wired virtual Picos (issue 10): the pump on its real image,
the fixture running hil/fixture/ on a plain MicroPython image, in one simulated time base
(pumphost.vpair). A subset of the suite runs as on a bench, `--target serial --port PUMP
--rig FIXTURE`: every count, interval and EN edge comes from the fixture's PIO capture over
its line protocol, every load-cell sample from the HX711 its PIO plays, every reset from its
RUN pin. They must pass as they do with the virtual rig (the rest of this run).

The subset, for `make test`'s time (the pair runs paced to wall time, about 1 simulated
second per 1.5 wall seconds on two shared cores): delivery at 5 mL/h (pulse counts over three
windows, every interval to the microsecond, pause/resume against EN), and the plant-in-the-
loop alarms that take a second (syringe removed, the load cell open or saturated: the switch
driven and the HX711 played by the fixture's PIO; the plant loop applies a fault when it is
injected, not at the end of the next 100 ms chunk, so the fixture's round trips leave their
bounds intact). Left out, for time: the octreotide rate (65 s windows), the occlusion (up to
45 s) and the small-fill run (22 s).
`PUMP_HIL_BENCH=all` runs test_delivery.py and test_alarms.py whole.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pumphost.vboard import DEFAULT_IMAGE
from pumphost.vpair import FIXTURE_IMAGE, VirtualPair

HIL = Path(__file__).resolve().parent
SUBSET = [
    "test_delivery.py::test_pulses_match_the_programmed_volume[intermediate 5 mL/h]",
    "test_delivery.py::test_step_intervals_are_the_plan_to_the_microsecond[intermediate 5 mL/h]",
    "test_delivery.py::test_pause_and_resume_lose_or_add_nothing",
    "test_alarms.py::test_syringe_removed_while_running",
    "test_alarms.py::test_load_cell_faults_stop_the_pump[sensor_open-no data-0.9]",
    "test_alarms.py::test_load_cell_faults_stop_the_pump[sensor_saturated-saturated-0.4]",
]
ALL = ["test_delivery.py", "test_alarms.py"]


def test_the_suite_passes_through_the_fixture(
    target: str, tmp_path: Path, report: list[str]
) -> None:
    if target != "virtual":
        pytest.skip("starts two virtual boards of its own: --target virtual only")
    if not FIXTURE_IMAGE.exists():
        pytest.fail(f"no plain MicroPython image at {FIXTURE_IMAGE}: run `make fidelity-image`")
    tests = ALL if os.environ.get("PUMP_HIL_BENCH") == "all" else SUBSET
    junit = tmp_path / "bench.xml"
    with VirtualPair(DEFAULT_IMAGE, FIXTURE_IMAGE) as pair:
        cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]
        cmd += [str(HIL / t) for t in tests]
        cmd += ["--target", "serial", "--port", pair.url, "--rig", pair.fixture_url]
        cmd += [f"--junitxml={junit}"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    out = res.stdout + res.stderr
    cases = ET.parse(junit).getroot().iter("testcase")
    outcome = {
        c.get("name", ""): (
            "failed" if c.find("failure") is not None or c.find("error") is not None
            else "skipped" if c.find("skipped") is not None
            else "passed"
        )
        for c in cases
    }  # fmt: skip
    assert outcome and all(v == "passed" for v in outcome.values()), (outcome, out[-3000:])
    report.append(
        f"bench fixture on two virtual Picos: {len(outcome)} tests passed through the "
        f"fixture's PIO capture, HX711 and RUN pin ({', '.join(sorted(outcome))})"
    )
