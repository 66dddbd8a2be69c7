"""Virtual Pico speed: simulated seconds per wall second with the pump running on the real
image, at the octreotide rate (0.136 mL/h) and at 5 mL/h, with the REPL idle and with a busy
REPL (a Python loop at the prompt while the pump runs).

Each line also gives the emulated core's instructions per simulated second: the firmware's
own cost, which no machine load moves (rp2040js runs 10-13 million a CPU second, so 20x
needs the whole board under about 500-650 thousand).

`vboard_speed()` prints one line per case and returns the figures; `make bench` calls it.
Run alone: `python -m pumphost.bench.vboard [--seconds S]`.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

from mpremote.transport_serial import SerialTransport

from pumphost.vboard.virtual import DEFAULT_IMAGE, VBoardError, VirtualBoard

TARGET = 20.0  # x real time under run_ns at CSCI rates (issue 12)
RATES = (("0.136 mL/h", "pump.rate('0.136')"), ("5 mL/h", "pump.rate('5')"))
# A busy REPL: the prompt runs a Python loop, started without waiting for it to end, so the
# pump's service step and IRQs share the core with it for the whole measurement.
_BUSY = "def _spin():\n    n = 0\n    while True:\n        n += 1\n_spin()\n"


@dataclass
class Speed:
    case: str
    sim_s: float
    wall_s: float
    cpu_s: float  # the bridge process's CPU time: the figure a loaded machine does not move
    instructions: int = 0  # core instructions executed meanwhile (the bridge's status)

    @property
    def ratio(self) -> float:
        return self.sim_s / self.wall_s if self.wall_s else float("inf")

    @property
    def cpu_ratio(self) -> float:
        return self.sim_s / self.cpu_s if self.cpu_s else float("inf")

    @property
    def instr_per_s(self) -> float:
        """Core instructions per simulated second."""
        return self.instructions / self.sim_s if self.sim_s else 0.0


def _cpu_s(vb: VirtualBoard) -> float:
    """User + system CPU seconds of the bridge process so far (Linux /proc)."""
    assert vb.pid is not None
    fields = Path(f"/proc/{vb.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _exec(vb: VirtualBoard, code: str) -> None:
    t = SerialTransport(vb.url, baudrate=115200)
    try:
        t.enter_raw_repl(soft_reset=False)
        t.exec(code)
    finally:
        t.close()


def _start_busy(vb: VirtualBoard) -> None:
    """Starts the busy loop at the raw REPL and leaves it running (closing the port keeps it
    running: the board holds what it was given)."""
    t = SerialTransport(vb.url, baudrate=115200)
    try:
        t.enter_raw_repl(soft_reset=False)
        t.exec_raw_no_follow(_BUSY)
    finally:
        t.close()


def _measure(vb: VirtualBoard, seconds: float) -> tuple[float, float, float, int]:
    s0 = vb.request("status")
    c0 = _cpu_s(vb)
    w0 = time.perf_counter()
    vb.run_ns(int(seconds * 1e9))
    wall = time.perf_counter() - w0
    cpu = _cpu_s(vb) - c0
    s1 = vb.request("status")
    sim = (s1["time_ns"] - s0["time_ns"]) / 1e9
    return sim, wall, cpu, int(s1["instructions"]) - int(s0["instructions"])


def vboard_speed(
    seconds: float = 20.0, busy_seconds: float = 2.0, image=DEFAULT_IMAGE, quiet: bool = False
) -> list[Speed]:
    """Simulated s per wall s of the virtual Pico running the pump, for each rate, REPL idle
    (`seconds` simulated) and busy (`busy_seconds`: a busy core runs at a fraction of real
    time); one fresh board per case. Prints a line per case unless quiet."""
    results: list[Speed] = []
    if not image.exists():
        print(f"vboard    speed: SKIPPED, no image at {image}")
        return results
    for label, command in RATES:
        for busy in (False, True):
            case = f"{label}, REPL {'busy' if busy else 'idle'}"
            try:
                with VirtualBoard(image, fresh=True, port=0) as vb:
                    vb.run_ns(1_000_000_000)  # boot and _boot.py
                    # a fresh board has no syringe loaded (a boot loads none)
                    _exec(vb, f"pump.load('bd-plastipak-10ml', '10')\n{command}\npump.start()")
                    if busy:
                        _start_busy(vb)
                    vb.run_ns(200_000_000)  # settle: the first batches are queued
                    sim, wall, cpu, instructions = _measure(vb, busy_seconds if busy else seconds)
            except VBoardError as e:
                print(f"vboard    {case}: SKIPPED, virtual board failed: {e}")
                continue
            r = Speed(case, sim, wall, cpu, instructions)
            results.append(r)
            if not quiet:
                verdict = "met" if busy or r.ratio >= TARGET else "MISSED on the wall clock"
                note = f"  target >= {TARGET:.0f}x: {verdict}" if not busy else ""
                print(
                    f"vboard    {case:26s} {r.ratio:8.1f} x real time  "
                    f"({sim:.1f} simulated s in {wall:.2f} s; {r.cpu_ratio:.1f}x per CPU s "
                    f"of the bridge; {r.instr_per_s / 1000:.0f}k instructions per "
                    f"simulated s){note}"
                )
    return results


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="simulated s, REPL idle")
    ap.add_argument("--busy-seconds", type=float, default=2.0, help="simulated s, REPL busy")
    args = ap.parse_args(argv)
    vboard_speed(args.seconds, args.busy_seconds)


if __name__ == "__main__":
    main()
