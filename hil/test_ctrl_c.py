"""Ctrl-C from a host never disturbs the infusion.

mpremote sends Ctrl-C to get the prompt back, and an engineer presses it to stop what they
typed. MicroPython raises it as KeyboardInterrupt at the next jump of whatever Python code
runs, and on the board that can be the service step (a scheduled soft-timer callback), half
way through: between taking a batch from the plan and queuing it, say. Here a host sends
Ctrl-C at random moments while the pump runs at a fast rate (a 20 ms service step), each
interrupting a busy loop at the REPL: the pump must keep running, unalarmed, exact.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from dut import DUT
from mpremote.transport_serial import SerialTransport
from plan import steps_after
from rig import VirtualRig

from pump import rate as rates

SYRINGE = "bd-plastipak-10ml"

CYCLES = 150
BUSY = b"import time\nprint('go')\nwhile True:\n    time.sleep_us(300)\n"


def _read_until(port: Any, marker: bytes, timeout: float) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while not out.endswith(marker) and time.monotonic() < deadline:
        out += port.read(1)
    return out


@pytest.mark.rig("pins", "time")
def test_a_storm_of_ctrl_c_changes_nothing(pump: DUT, rig: VirtualRig, report: list[str]) -> None:
    rate = rates.from_ml_per_h(10)  # over 50 steps/s: the service step runs every 20 ms
    t0 = rig.now_ns()
    pump.exec("pump.rate('10')\npump.start()")
    rng = random.Random(7)
    t = SerialTransport(pump.url, baudrate=115200)
    interrupted = dropped = 0
    try:
        t.enter_raw_repl(soft_reset=False)
        port = t.serial
        port.timeout = 0.05
        for _ in range(CYCLES):
            # The raw REPL runs a busy loop; a Ctrl-C after a random wait interrupts it, and
            # lands wherever the board is then: often enough, inside the service step.
            port.write(BUSY + b"\x04")
            # Ctrl-C interrupts only once the code runs (while it compiles it is a character)
            assert _read_until(port, b"go\r\n", 10).endswith(b"go\r\n")
            time.sleep(rng.uniform(0.005, 0.06))
            out = b""
            for _attempt in range(5):
                port.write(b"\x03")
                out = _read_until(port, b"\x04>", 3)
                if out.endswith(b"\x04>"):
                    break
                dropped += 1  # absorbed by a step that must not be cut half-way: again
            assert out.endswith(b"\x04>"), out
            interrupted += b"KeyboardInterrupt" in out
        t.exit_raw_repl()
    finally:
        t.close()
    status = pump.eval("pump.status()")
    assert status["state"] == "running" and status["alarms"] == [], repr(status)
    pump.exec("pump.pause()")
    rise, fall = rig.edges("en", t0)
    running_ns = sum(r - f for f, r in zip(fall, rise, strict=False))
    steps = rig.step_times(t0)
    assert abs(len(steps) - steps_after(SYRINGE, rate, running_ns)) <= 1
    assert pump.eval("pump.status()['steps']") == len(steps)
    report.append(
        f"Ctrl-C: {CYCLES} at random moments, {interrupted} interrupted the REPL's code, "
        f"{dropped} dropped (sent again); {len(steps)} steps, the pump exact and unalarmed"
    )
