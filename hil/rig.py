"""The rig around the board: pins, simulated time, power. The virtual rig drives the emulated
RP2040's control channel; a real bench rig would drive a logic analyser and a relay."""

from __future__ import annotations

from pumphost.vboard import VirtualBoard

NS_PER_S = 1_000_000_000


class VirtualRig:
    capabilities = frozenset({"pins", "time", "power"})

    def __init__(self, board: VirtualBoard, pins: dict[str, int]) -> None:
        self.board = board
        self.pins = pins

    def now_ns(self) -> int:
        return self.board.now_ns()

    def run_s(self, seconds: float) -> int:
        return self.board.run_ns(int(seconds * NS_PER_S))

    def step_times(self, since_ns: int, until_ns: int | None = None) -> list[int]:
        """Rising STEP edges (simulated ns) in [since_ns, until_ns)."""
        rising, _ = self.board.edges(self.pins["step"], since_ns, until_ns)
        return rising

    def level(self, name: str) -> int:
        return int(self.board.pins()[self.pins[name]]["level"])

    def edges(self, name: str, since_ns: int = 0) -> tuple[list[int], list[int]]:
        return self.board.edges(self.pins[name], since_ns)

    def power_cycle(self, off_s: float = 0.0) -> None:
        self.board.power_cut()
        self.run_s(max(off_s, 1.0))  # boot to the REPL

    def reset(self) -> None:
        self.board.reset()
        self.run_s(1.0)
