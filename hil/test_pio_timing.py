"""PIO timing on the virtual Pico, measured in simulated time from the pin edge timestamps.

Runs the vpico image on the rp2040js bridge, starts rp2.PIO square waves from the REPL with
mpremote, then lets the control channel run simulated time and read the edges. On the
simulated clock the periods and duty are exact, so the asserts are exact too.

    .venv/bin/python -m pytest -q hil/test_pio_timing.py
    .venv/bin/python hil/test_pio_timing.py     # prints boot and speed figures
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from pumphost.vboard.virtual import DEFAULT_BOOTROM, DEFAULT_IMAGE, VirtualBoard

pytestmark = pytest.mark.skipif(
    not (DEFAULT_IMAGE.exists() and DEFAULT_BOOTROM.exists()),
    reason="virtual board needs the vpico image and our boot ROM "
    f"({DEFAULT_IMAGE}, {DEFAULT_BOOTROM}): make firmware BOARD=vpico",
)

MS = 1_000_000  # ns

SQUARE_WAVES = """
import rp2
from machine import Pin

@rp2.asm_pio(set_init=rp2.PIO.OUT_LOW)
def square8():  # 8 state machine cycles per period, 4 high
    set(pins, 1) [3]
    set(pins, 0) [3]

@rp2.asm_pio(set_init=rp2.PIO.OUT_LOW)
def square10():  # 10 cycles per period, 5 high
    set(pins, 1) [4]
    set(pins, 0) [4]

waves = [
    rp2.StateMachine(0, square8, freq=1_000_000, set_base=Pin(2)),   # 8 us, duty 50 %
    rp2.StateMachine(1, square10, freq=10_000, set_base=Pin(3)),     # 1 ms, duty 50 %
    rp2.StateMachine(2, square8, freq=3_000_000, set_base=Pin(4)),   # divider 41 + 2/3
]
for sm in waves:
    sm.active(1)
"""


def mpremote(board: VirtualBoard, code: str, follow: bool = True) -> str:
    """exec through mpremote exactly as on a USB board (soft reset first: a clean VM)."""
    cmd = [sys.executable, "-m", "mpremote", "connect", board.url, "exec"]
    cmd += [code] if follow else ["--no-follow", code]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


@pytest.fixture(scope="module")
def waves(request: pytest.FixtureRequest) -> Iterator[tuple[VirtualBoard, int]]:
    """A board running the square waves, halted; yields it and the start of a 20 ms window."""
    if request.config.getoption("--target", default="virtual") != "virtual":
        pytest.skip("simulated-time PIO timing: virtual board only")
    # a board of its own: the waves must not disturb the suite's shared board
    with VirtualBoard(DEFAULT_IMAGE, port=0, fresh=True) as board:
        mpremote(board, SQUARE_WAVES)
        # The board runs on after mpremote disconnects until it has handled every byte sent
        # (soft reset, _boot.py, the raw REPL's exit): count only once it has halted.
        deadline = time.monotonic() + 30
        while board.request("status")["running"] and time.monotonic() < deadline:
            time.sleep(0.05)
        board.clear()
        t0 = board.now_ns()
        board.run_ns(20 * MS)
        yield board, t0


def periods_and_highs(board: VirtualBoard, pin: int, t0: int) -> tuple[set[int], set[int]]:
    rising, falling = board.edges(pin, since_ns=t0, until_ns=t0 + 20 * MS)
    falling = [t for t in falling if t > rising[0]]
    periods = {b - a for a, b in zip(rising, rising[1:], strict=False)}
    highs = {f - r for r, f in zip(rising, falling, strict=False)}
    return periods, highs


def test_1mhz_square_wave_is_exact(waves: tuple[VirtualBoard, int]) -> None:
    board, t0 = waves
    periods, highs = periods_and_highs(board, 2, t0)
    assert periods == {8000}
    assert highs == {4000}
    assert abs(board.count(2) - 20 * MS // 8000) <= 1


def test_10khz_square_wave_is_exact(waves: tuple[VirtualBoard, int]) -> None:
    board, t0 = waves
    periods, highs = periods_and_highs(board, 3, t0)
    assert periods == {1_000_000}
    assert highs == {500_000}
    assert abs(board.count(3) - 20) <= 1


def test_fractional_divider_jitters_by_one_system_cycle(waves: tuple[VirtualBoard, int]) -> None:
    board, t0 = waves
    periods, _ = periods_and_highs(board, 4, t0)
    assert periods <= {2664, 2672}  # 8 cycles of 41.67 system cycles of 8 ns
    rising, _ = board.edges(4, since_ns=t0, until_ns=t0 + 20 * MS)
    mean = (rising[-1] - rising[0]) / (len(rising) - 1)
    assert abs(mean - 8000 / 3) < 1
    assert abs(board.count(4) - 7500) <= 1


def test_counts_follow_simulated_time_only(waves: tuple[VirtualBoard, int]) -> None:
    """Halted between requests: the same run gives the same count, whatever the wall time."""
    board, _ = waves
    board.clear()
    time.sleep(0.2)
    board.run_ns(5 * MS)
    first = board.count(2)
    board.clear()
    board.run_ns(5 * MS)
    assert first == board.count(2) == 625


# ---- figures for the report: python hil/test_pio_timing.py ----


def _boot_to_prompt(board: VirtualBoard) -> float:
    with socket.create_connection((board.host, board.port)) as sock:
        start = time.perf_counter()
        seen = b""
        while b">>> " not in seen:
            seen += sock.recv(4096)
        return time.perf_counter() - start


def _wall_per_sim_second(board: VirtualBoard) -> float:
    start = time.perf_counter()
    board.run_ns(1_000 * MS)
    return time.perf_counter() - start


def main() -> None:
    with VirtualBoard(DEFAULT_IMAGE, port=0, fresh=True) as board:
        print(f"boot to prompt (fresh flash, littlefs format): {_boot_to_prompt(board):.3f} s")
        board.reset()
        print(f"boot to prompt (reset):                        {_boot_to_prompt(board):.3f} s")
        mpremote(board, "print(1)")
        print(f"wall per simulated s, idle REPL:       {_wall_per_sim_second(board):.3f} s")
        mpremote(board, "import time\nwhile True: time.sleep_ms(1)", follow=False)
        print(f"wall per simulated s, sleep_ms(1) loop: {_wall_per_sim_second(board):.3f} s")
        mpremote(board, "n = 0\nwhile True: n += 1", follow=False)
        print(f"wall per simulated s, busy Python loop: {_wall_per_sim_second(board):.3f} s")
        one_wave = SQUARE_WAVES.replace("for sm in waves", "for sm in waves[:1]")
        mpremote(board, one_wave)
        print(
            f"wall per simulated s, 1 MHz state machine:       {_wall_per_sim_second(board):.3f} s"
        )
        mpremote(board, one_wave + "n = 0\nwhile True: n += 1", follow=False)
        print(
            f"wall per simulated s, 1 MHz SM + busy loop:     {_wall_per_sim_second(board):.3f} s"
        )


if __name__ == "__main__":
    main()
