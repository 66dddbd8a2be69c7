"""Decodes the alarm buzzer's and LED's pin edges (ns) into what IEC 60601-1-8 specifies, and
checks them against the table in firmware/pump/signals.py (`signals.IEC`): pulses per burst,
tone frequency, pulse widths, the spacings inside a burst, the repeat and interburst
intervals, the light's colour, flashing frequency and duty cycle. The HIL tests run it on the
virtual Pico's edges and on the bench fixture's; `report()` prints the figures next to the
standard's ranges."""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median

from pump import signals

MS = 1_000_000  # ns
PRIORITY = {10: signals.HIGH, 3: signals.MEDIUM, 2: signals.LOW, 1: signals.LOW}
NAMES = {signals.HIGH: "high", signals.MEDIUM: "medium", signals.LOW: "low"}
_PULSE_GAP_NS = 10 * MS  # tone edges closer than this belong to one pulse
_BURST_GAP_NS = 2_000 * MS  # pulses closer than this belong to one burst (tb is >= 2.5 s)


@dataclass
class Pulse:
    start: int  # ns, first rising edge
    cycles: int
    period: float  # ns, mean rising-to-rising inside the pulse

    @property
    def end(self) -> float:
        return self.start + self.cycles * self.period

    @property
    def width_ms(self) -> float:
        return self.cycles * self.period / MS


@dataclass
class Burst:
    pulses: list[Pulse]

    @property
    def start(self) -> int:
        return self.pulses[0].start

    @property
    def end(self) -> float:
        return self.pulses[-1].end

    def spacings_ms(self) -> list[float]:
        p = self.pulses
        return [(p[i + 1].start - p[i].end) / MS for i in range(len(p) - 1)]


@dataclass
class Sound:
    bursts: list[Burst]
    freq_hz: float
    repeat_ms: list[float] = field(default_factory=list)  # burst start to the next one's
    interburst_ms: list[float] = field(default_factory=list)  # burst end to the next start

    @property
    def priority(self) -> int:
        counts = {len(b.pulses) for b in self.bursts}
        return PRIORITY.get(counts.pop(), 0) if len(counts) == 1 else -1


def pulses(rising: list[int]) -> list[Pulse]:
    """Tone pulses from the buzzer's rising edges."""
    out: list[Pulse] = []
    run: list[int] = []
    for t in rising:
        if run and t - run[-1] > _PULSE_GAP_NS:
            out.append(_pulse(run))
            run = []
        run.append(t)
    if run:
        out.append(_pulse(run))
    return out


def _pulse(run: list[int]) -> Pulse:
    period = (run[-1] - run[0]) / (len(run) - 1) if len(run) > 1 else float("nan")
    return Pulse(run[0], len(run), period)


def sound(rising: list[int], whole_bursts_until: int | None = None) -> Sound:
    """Bursts from the buzzer's rising edges. A burst still under way at
    `whole_bursts_until` (ns; the capture's end) is dropped: its count would be short."""
    ps = pulses(rising)
    bursts: list[Burst] = []
    for p in ps:
        if bursts and p.start - bursts[-1].end <= _BURST_GAP_NS:
            bursts[-1].pulses.append(p)
        else:
            bursts.append(Burst([p]))
    if bursts and whole_bursts_until is not None:
        if whole_bursts_until - bursts[-1].end <= _BURST_GAP_NS:
            bursts.pop()
    periods = [p.period for b in bursts for p in b.pulses if p.cycles > 1]
    freq = 1e9 / median(periods) if periods else 0.0
    s = Sound(bursts, freq)
    for a, b in zip(bursts, bursts[1:], strict=False):
        s.repeat_ms.append((b.start - a.start) / MS)
        s.interburst_ms.append((b.start - a.end) / MS)
    return s


@dataclass
class Light:
    colour: str  # "red", "yellow", "green", "dark"
    flash_hz: float  # 0: steady
    duty_pct: float


def light(
    red: tuple[list[int], list[int]],
    green: tuple[list[int], list[int]],
    red_level: int,
    green_level: int,
    since: int,
    until: int,
) -> Light:
    """The LED over [since, until) from each element's (rising, falling) edges and its level
    at `until`."""
    on = [bool(red[0]) or red_level, bool(green[0]) or green_level]
    colour = {(1, 0): "red", (1, 1): "yellow", (0, 1): "green", (0, 0): "dark"}[
        (int(bool(on[0])), int(bool(on[1])))
    ]
    rising, falling = red if on[0] else green
    if len(rising) < 2:
        return Light(colour, 0.0, 100.0 if (red_level or green_level) else 0.0)
    period = (rising[-1] - rising[0]) / (len(rising) - 1)
    highs = []
    for r in rising:
        f = next((f for f in falling if f > r), None)
        if f is not None:
            highs.append(f - r)
    duty = 100 * median(highs) / period if highs else 0.0
    return Light(colour, 1e9 / period, duty)


def check(s: Sound, lt: Light | None, priority: int) -> list[str]:
    """What is outside the standard's ranges (signals.IEC) for `priority`: [] when all keep."""
    iec = signals.IEC[priority]
    bad: list[str] = []

    def within(what: str, v: float, rng: tuple[int, int]) -> None:
        if not rng[0] <= v <= rng[1]:
            bad.append(f"{what} {v:.1f} outside {rng[0]}-{rng[1]}")

    if not s.bursts:
        return ["no whole burst captured"]
    if s.priority != priority:
        bad.append(f"pulses per burst {[len(b.pulses) for b in s.bursts]} say {s.priority}")
    within("tone Hz", s.freq_hz, signals.IEC_TONE_HZ)
    for b in s.bursts:
        lo, hi = iec["pulses"]
        if not lo <= len(b.pulses) <= hi:
            bad.append(f"{len(b.pulses)} pulses in a burst")
        for p in b.pulses:
            within("pulse width ms", p.width_ms, iec["td_ms"])
        sp = b.spacings_ms()
        if priority == signals.HIGH and len(sp) == 9:
            x = sp[0]
            td = b.pulses[0].width_ms
            within("x ms", x, iec["x_ms"])
            within("pause ms", sp[4], iec["pause_ms"])
            for i in (0, 1, 3, 5, 6, 8):
                if abs(sp[i] - x) > x * signals.IEC_SPREAD_PCT / 100:
                    bad.append(f"spacing {i + 1}-{i + 2} {sp[i]:.1f} ms is not x {x:.1f} ms")
            for i in (2, 7):
                if abs(sp[i] - (2 * x + td)) > x * signals.IEC_SPREAD_PCT / 100:
                    bad.append(f"spacing {i + 1}-{i + 2} {sp[i]:.1f} ms is not 2x + td")
        elif sp and "y_ms" in iec:
            for g in sp:
                within("y ms", g, iec["y_ms"])
            if max(sp) - min(sp) > sp[0] * 2 * signals.IEC_SPREAD_PCT / 100:
                bad.append(f"spacings {sp} vary beyond +-5 %")
    for tb in s.interburst_ms:
        within("interburst ms", tb, iec["tb_ms"])
    if lt is not None:
        want = {signals.HIGH: "red", signals.MEDIUM: "yellow", signals.LOW: "yellow"}[priority]
        if lt.colour != want:
            bad.append(f"light {lt.colour}, not {want}")
        lo, hi = iec["flash_mhz"]
        if hi:
            within("flash Hz", lt.flash_hz, (lo / 1000, hi / 1000))
            within("duty %", lt.duty_pct, signals.IEC_DUTY_PCT)
        elif lt.flash_hz:
            bad.append(f"light flashes at {lt.flash_hz:.2f} Hz, not steady")
    return bad


def report(s: Sound, lt: Light | None, priority: int, where: str) -> str:
    """One line: the measured figures next to the IEC ranges."""
    iec = signals.IEC[priority]
    b = s.bursts[0] if s.bursts else Burst([])
    widths = [p.width_ms for p in b.pulses]
    sp = b.spacings_ms()
    parts = [
        f"{NAMES[priority]} ({where}): {len(b.pulses)} pulses (IEC {iec['pulses'][0]}"
        + (f"-{iec['pulses'][1]})" if iec["pulses"][1] != iec["pulses"][0] else ")"),
        f"{s.freq_hz:.1f} Hz (150-1000)",
        f"width {min(widths, default=0):.1f}-{max(widths, default=0):.1f} ms "
        f"(td {iec['td_ms'][0]}-{iec['td_ms'][1]})",
    ]
    if priority == signals.HIGH and len(sp) == 9:
        parts.append(
            f"x {sp[0]:.1f} ms (50-125), 2x+td {sp[2]:.1f} ms, pause {sp[4]:.1f} ms (350-1300)"
        )
    elif sp:
        parts.append(f"y {min(sp):.1f}-{max(sp):.1f} ms (125-250)")
    if s.repeat_ms:
        tb = iec["tb_ms"]
        top = "" if tb[1] > 10**8 else f"-{tb[1]}"
        parts.append(
            f"repeat {s.repeat_ms[0]:.1f} ms, interburst {s.interburst_ms[0]:.1f} ms "
            f"({tb[0]}{top or '+'})"
        )
    if lt is not None:
        lo, hi = iec["flash_mhz"]
        rng = f"{lo / 1000:g}-{hi / 1000:g} Hz, 20-60 %" if hi else "steady"
        parts.append(f"light {lt.colour} {lt.flash_hz:.2f} Hz {lt.duty_pct:.0f} % on ({rng})")
    return ", ".join(parts)
