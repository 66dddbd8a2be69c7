"""Scenario files (TOML): a pump, a program and a run, validated into exact integers."""

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pump import api, mechanics, syringes
from pump import rate as core_rate
from pumphost import boards
from pumphost.sim import battery, plant

# Non-finite floats (TOML's inf and nan) are refused for every key: "a finite number".
_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class ScenarioError(ValueError):
    """A one-line, user-facing problem with a scenario file."""


class _Pump(BaseModel):
    model_config = _STRICT
    board: str
    syringe: str
    fill_ml: Positive
    serial: str | None = None  # the pump's serial: its log names it (pump.api.check_serial)


class _Program(BaseModel):
    model_config = _STRICT
    rate_ml_per_h: Positive | None = None
    dose_ug_per_24h: PositiveInt | None = None
    concentration_ug_per_ml: PositiveInt | None = None

    @model_validator(mode="after")
    def _one_rate(self) -> "_Program":
        if (self.rate_ml_per_h is None) == (self.dose_ug_per_24h is None):
            raise ValueError("give exactly one of rate_ml_per_h and dose_ug_per_24h")
        if self.dose_ug_per_24h is not None and self.concentration_ug_per_ml is None:
            raise ValueError("dose_ug_per_24h needs concentration_ug_per_ml")
        return self


class _Event(BaseModel):
    model_config = _STRICT
    at_min: Annotated[float, Field(ge=0)]
    action: Literal["pause", "resume", "rate", "stop", "stall"]
    rate_ml_per_h: Positive | None = None
    dose_ug_per_24h: PositiveInt | None = None
    duration_ms: Annotated[int, Field(gt=0, le=3_600_000)] | None = None


class _Run(BaseModel):
    model_config = _STRICT
    duration_h: Annotated[float, Field(gt=0, le=24 * 31)]
    # Tick counter at power-up; by default close to the 2**30 wrap so every run crosses it.
    start_tick: Annotated[int, Field(ge=0, lt=1 << 30)] = (1 << 30) - 5_000_000


class _Plant(BaseModel):
    model_config = _STRICT
    seed: Annotated[int, Field(ge=0)] = 0
    ceiling: Literal["low", "medium", "high"] = "medium"


class _Fault(BaseModel):
    model_config = _STRICT
    at_h: Annotated[float, Field(ge=0)]
    kind: Literal[plant.FAULTS]  # type: ignore[valid-type]


# The pump protocol's error codes (firmware/pump/PROTOCOL.md): what a [[command]] may expect.
ErrorCode = Literal[
    "bad_json", "bad_request", "too_long", "unknown_command", "bad_arg", "out_of_range",
    "refused", "bolus_denied", "soft_limit", "hard_limit", "token_invalid", "pin_not_set",
    "pin_required", "pin_wrong", "pin_locked", "id_reused", "id_old", "not_available", "fault",
    "busy",
]  # fmt: skip


class _PowerEvent(BaseModel):
    model_config = _STRICT
    at_h: Annotated[float, Field(ge=0)]
    kind: Literal[battery.EVENTS]  # type: ignore[valid-type]


class _Power(BaseModel):
    """The supply (issue 21): a cell from boards/batteries.py, its state, mains, events."""

    model_config = _STRICT
    battery: Literal[tuple(battery.batteries.BATTERIES)]  # type: ignore[valid-type]
    charge_pct: Annotated[int, Field(ge=0, le=100)] = 100
    capacity_pct: Annotated[int, Field(gt=0, le=100)] = 100  # a weaker cell than rated
    resistance_x: Annotated[int, Field(ge=1, le=100)] = 1  # times the rated resistance
    mains: bool = False
    event: list[_PowerEvent] = []


class _Command(BaseModel):
    model_config = _STRICT
    at_h: Annotated[float, Field(ge=0)]
    line: Annotated[str, Field(min_length=1)]
    expect: ErrorCode | None = None  # the script means it to be refused, with this code


KEYS = ("ok", "stop", "up", "down", "info", "bolus")  # pump.keys.NAMES


class _Press(BaseModel):
    """A hand on the bedside keys (pump/ui.py): `key` held hold_ms, `times` times in a row;
    or `pin`: the digits typed on the PIN screen (each one up or down from 0, OK to the
    next, OK held to enter). shot: a name for the PNG of the screen after it (--screens)."""

    model_config = _STRICT
    at_h: Annotated[float, Field(ge=0)]
    key: Literal["ok", "stop", "up", "down", "info", "bolus"] | None = None
    pin: Annotated[str, Field(pattern=r"^[0-9]{4,8}$")] | None = None
    hold_ms: Annotated[int, Field(ge=20, le=60000)] = 100
    times: Annotated[int, Field(ge=1, le=500)] = 1
    shot: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")] | None = None

    @model_validator(mode="after")
    def _one(self) -> "_Press":
        if (self.key is None) == (self.pin is None):
            raise ValueError("give one of key and pin")
        return self


class _Scenario(BaseModel):
    model_config = _STRICT
    pump: _Pump
    program: _Program | None = None  # optional with a [[command]] script, which programs it
    command: list[_Command] = []
    press: list[_Press] = []
    run: _Run
    events: list[_Event] = []
    plant: _Plant | None = None
    fault: list[_Fault] = []
    power: _Power | None = None


@dataclass(frozen=True)
class Event:
    at_us: int
    action: str
    rate: tuple[int, int] | None
    text: str  # as the user wrote it, for summaries
    index: int = 0  # place among the file's [[events]] tables, counted from 0
    at_min: str = "0"  # as the user wrote it
    stall_us: int = 0  # a "stall": how long the step executor issues nothing
    dose: tuple[int, int] | None = None  # a rate event given as (ug/24 h, ug/mL)

    @property
    def key(self) -> str:
        return f"events[{self.index}]"

    @property
    def name(self) -> str:
        """How messages name the event: events[2] (3rd [[events]], at_min = 30)."""
        return f"{self.key} ({_ordinal(self.index)} [[events]], at_min = {self.at_min})"


@dataclass(frozen=True)
class Command:
    """A protocol line of the script, sent at at_us."""

    at_us: int
    line: str
    index: int  # place among the file's [[command]] tables, counted from 0
    at_h: str  # as the user wrote it
    expect: str | None = None  # the error code it is meant to get; None: accepted

    @property
    def key(self) -> str:
        return f"command[{self.index}]"

    @property
    def name(self) -> str:
        """command[2] (3rd [[command]], at_h = 0.5)."""
        return f"{self.key} ({_ordinal(self.index)} [[command]], at_h = {self.at_h})"


@dataclass(frozen=True)
class Press:
    """A [[press]]: the keys pressed at at_us, as (key, hold ms) one after another."""

    at_us: int
    keys: list[tuple[str, int]]
    index: int  # place among the file's [[press]] tables, counted from 0
    at_h: str  # as the user wrote it
    shot: str | None = None

    @property
    def name(self) -> str:
        """press[2] (3rd [[press]], at_h = 0.5)."""
        return f"press[{self.index}] ({_ordinal(self.index)} [[press]], at_h = {self.at_h})"

    @property
    def label(self) -> str:
        """What its PNG is named after: its shot, else its key ("pin" for a PIN)."""
        if self.shot:
            return self.shot
        return self.keys[0][0] if len({k for k, _ in self.keys}) == 1 else "pin"


def pin_keys(pin: str) -> list[tuple[str, int]]:
    """The presses that type `pin` on the PIN screen (pump/ui.py)."""
    out: list[tuple[str, int]] = []
    for i, c in enumerate(pin):
        d = int(c)
        out += [("up", 100)] * d if d <= 5 else [("down", 100)] * (10 - d)
        out.append(("ok", 1100 if i == len(pin) - 1 else 100))  # held on the last: enter
    return out


@dataclass(frozen=True)
class Scenario:
    name: str
    board: boards.Board
    syringe_id: str
    fill_nl: int
    rate: tuple[int, int] | None  # nL/h as an exact fraction (None: the script programs it)
    program_text: str
    duration_us: int
    start_tick: int
    events: list[Event] = field(default_factory=list)
    dose: tuple[int, int] | None = None  # the program as a dose: (ug/24 h, ug/mL)
    # With a [plant] table (or [[fault]]s): the pump has a load cell and a syringe switch,
    # and the plant model (pumphost.sim.plant) pushes back.
    plant_seed: int | None = None
    ceiling: str = "medium"
    faults: list[tuple[float, str]] = field(default_factory=list)  # (at s, kind)
    # Protocol lines sent at given times through pump.protocol, in time order (file order
    # at the same time). "$TOKEN" in a line is the last program.validate token.
    commands: list[Command] = field(default_factory=list)
    # Key presses on the bedside UI (pump/ui.py), in time order (file order at one time);
    # a [[command]] and a [[press]] at the same time: the command first.
    presses: list[Press] = field(default_factory=list)
    serial: str = ""  # the pump's serial ("" none): its pulled log names it
    power: "Power | None" = None  # [power]: the pump knows its supply (pump/power.py)


@dataclass(frozen=True)
class Power:
    battery: str
    charge_pm: int
    capacity_pm: int
    r_times: int
    mains: bool
    events: list[tuple[float, str]] = field(default_factory=list)  # (at s, kind), in time order


def _ordinal(index: int) -> str:
    n = index + 1
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _as_written(value: object) -> str | None:
    """A TOML number as the user wrote it (plain decimals, not 1e-05); None if not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    text = repr(value)
    if isinstance(value, float) and "e" in text and abs(value) < 1e16:
        text = format(Decimal(text), "f")
    return text


def _event_where(index: int, raw: object, field: str = "") -> str:
    """events[2].field (3rd [[events]], at_min = 30): the key and the table in the file."""
    at_min = _as_written(raw.get("at_min")) if isinstance(raw, dict) else None
    table = f"{_ordinal(index)} [[events]]" + (f", at_min = {at_min}" if at_min else "")
    return f"events[{index}]{'.' + field if field else ''} ({table})"


def _exact(value: float) -> Fraction:
    # The decimal the user wrote (TOML floats round-trip through repr), not the binary float.
    return Fraction(repr(value))


def _describe(ml_h: float | None, dose: int | None, conc: int | None) -> str:
    return f"{ml_h:g} mL/h" if ml_h is not None else f"{dose} µg/24 h at {conc} µg/mL"


def _rate(ml_h: float | None, dose: int | None, conc: int | None) -> tuple[int, int]:
    """The rate in nL/h; core_rate.RateError says why not (the caller names the key)."""
    if ml_h is not None:
        f = _exact(ml_h)
        return core_rate.from_ml_per_h(f.numerator, f.denominator)
    if conc is None:
        raise core_rate.RateError("a dose needs program.concentration_ug_per_ml")
    return core_rate.from_dose(dose, conc)


def _rate_key(ml_h: float | None) -> str:
    return "rate_ml_per_h" if ml_h is not None else "dose_ug_per_24h"


def _first_error(err: ValidationError, raw: dict[str, object]) -> str:
    e = err.errors()[0]
    path = list(e["loc"])
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown key"
    elif e["type"] == "missing":
        msg = "missing key"
    if len(path) >= 2 and path[0] == "events" and isinstance(path[1], int):
        events = raw.get("events")
        table = events[path[1]] if isinstance(events, list) else None
        loc = _event_where(path[1], table, ".".join(str(p) for p in path[2:]))
    else:
        loc = ".".join(str(p) for p in path)
    return f"{loc}: {msg}" if loc else msg


# What each event needs of the pump's state, as far as it is known before the run, and the
# state it leaves (None: unchanged). Whatever only the run can tell (the syringe emptied
# first) the emulator reports as "not applied" in the summary.
_EVENT_STATES: dict[str, tuple[frozenset[str], str | None]] = {
    "pause": (frozenset({"running"}), "paused"),
    "resume": (frozenset({"paused"}), "running"),
    "rate": (frozenset({"running", "paused"}), None),
    "stop": (frozenset({"running", "paused"}), "stopped"),
    # A fault injected into the step executor: the run tells whether a step came late.
    "stall": (frozenset({"running", "paused"}), None),
}
_VERB = {"rate": "change the rate"}


def _check_sequence(events: list[Event], duration_us: int, duration_h: str) -> None:
    """Refuse events the run could never apply: the pump starts running at time 0."""
    state, stop = "running", None
    for ev in events:  # in time order; events at the same time in file order
        verb = _VERB.get(ev.action, ev.action)
        if ev.at_us >= duration_us:
            raise ScenarioError(
                f"{ev.name}: at or after the end of the run "
                f"(run.duration_h = {duration_h}, {_minutes(duration_us)} min)"
            )
        if stop is not None:
            raise ScenarioError(
                f"{ev.name}: cannot {verb} after the stop at {stop.key} (at_min = {stop.at_min})"
            )
        allowed, after = _EVENT_STATES[ev.action]
        if state not in allowed:
            raise ScenarioError(f"{ev.name}: cannot {verb} while {state}")
        state = after or state
        if state == "stopped":
            stop = ev


def _minutes(us: int) -> str:
    m = Fraction(us, 60_000_000)
    return str(m) if m.denominator == 1 else f"{float(m):g}"


def parse(text: str, name: str = "scenario") -> Scenario:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"not valid TOML: {e}") from None
    try:
        sc = _Scenario.model_validate(raw)
    except ValidationError as e:
        raise ScenarioError(_first_error(e, raw)) from None
    try:
        board = boards.load(sc.pump.board)
    except ValueError as e:
        raise ScenarioError(f"pump.board: {e}") from None
    try:
        syr = syringes.lookup(sc.pump.syringe)
    except ValueError as e:
        raise ScenarioError(f"pump.syringe: {e}") from None
    fill_nl = int(_exact(sc.pump.fill_ml) * 1_000_000)
    if fill_nl > syr[3] * 1000:
        raise ScenarioError(f"pump.fill_ml: more than the syringe's usable {syr[3] / 1000} mL")
    drive = mechanics.Drive(board.lead_um, board.full_steps_per_rev, board.microsteps)
    vol = mechanics.nl_per_step(mechanics.Syringe(sc.pump.syringe), drive)
    if mechanics.steps_for_nl(fill_nl, vol) <= 0:  # the controller refuses an empty syringe
        raise ScenarioError(
            f"pump.fill_ml: {_as_written(sc.pump.fill_ml)} mL is less than one microstep of "
            f"this syringe ({vol[0] / vol[1]:.3f} nL)"
        )
    p = sc.program
    raw_commands = raw.get("command", [])
    commands = sorted(
        (
            Command(
                int(_exact(c.at_h) * 3_600_000_000),
                c.line,
                i,
                _as_written(raw_commands[i]["at_h"]) or repr(c.at_h),
                c.expect,
            )
            for i, c in enumerate(sc.command)
        ),
        key=lambda c: c.at_us,
    )
    raw_presses = raw.get("press", [])
    presses = sorted(
        (
            Press(
                int(_exact(pr.at_h) * 3_600_000_000),
                pin_keys(pr.pin) if pr.pin else [(pr.key or "ok", pr.hold_ms)] * pr.times,
                i,
                _as_written(raw_presses[i]["at_h"]) or repr(pr.at_h),
                pr.shot,
            )
            for i, pr in enumerate(sc.press)
        ),
        key=lambda pr: pr.at_us,
    )
    if p is None:
        if not commands and not presses:
            raise ScenarioError(
                "program: missing key (or a [[command]] or [[press]] script that sets one)"
            )
        if sc.events:
            raise ScenarioError("events: with a [[command]] script, pause/resume are commands")
    elif presses and sc.events:
        raise ScenarioError("events: with [[press]] keys, pause/resume are keys or commands")
    conc = p.concentration_ug_per_ml if p else None
    try:
        rate = _rate(p.rate_ml_per_h, p.dose_ug_per_24h, conc) if p else None
    except core_rate.RateError as e:
        raise ScenarioError(f"program.{_rate_key(p.rate_ml_per_h)}: {e}") from None
    events = []
    raw_events = raw.get("events", [])
    for i, ev in enumerate(sc.events):  # file order: the first bad table is the one named
        new_rate = None
        text = ev.action
        given = [k for k in ("rate_ml_per_h", "dose_ug_per_24h") if getattr(ev, k) is not None]
        if ev.action == "rate":
            if len(given) != 1:
                raise ScenarioError(
                    f"{_event_where(i, raw_events[i])}: "
                    "needs one of rate_ml_per_h and dose_ug_per_24h"
                )
            try:
                new_rate = _rate(ev.rate_ml_per_h, ev.dose_ug_per_24h, conc)
            except core_rate.RateError as e:
                where = _event_where(i, raw_events[i], _rate_key(ev.rate_ml_per_h))
                raise ScenarioError(f"{where}: {e}") from None
            text = "rate " + _describe(ev.rate_ml_per_h, ev.dose_ug_per_24h, conc)
        elif given:
            where = _event_where(i, raw_events[i], given[0])
            raise ScenarioError(f"{where}: only a rate event takes a rate or a dose")
        if (ev.action == "stall") != (ev.duration_ms is not None):
            where = _event_where(i, raw_events[i], "duration_ms")
            need = "a stall needs" if ev.action == "stall" else "only a stall takes"
            raise ScenarioError(f"{where}: {need} duration_ms")
        if ev.duration_ms is not None:
            text = f"stall of the step executor for {ev.duration_ms} ms"
        at_us = int(_exact(ev.at_min) * 60_000_000)
        at_min = _as_written(raw_events[i]["at_min"]) or repr(ev.at_min)
        stall_us = (ev.duration_ms or 0) * 1000
        dose = (ev.dose_ug_per_24h, conc) if ev.dose_ug_per_24h and conc else None
        events.append(Event(at_us, ev.action, new_rate, text, i, at_min, stall_us, dose))
    events.sort(key=lambda e: e.at_us)  # stable: events at the same time stay in file order
    duration_us = int(_exact(sc.run.duration_h) * 3_600_000_000)
    _check_sequence(events, duration_us, _as_written(raw["run"]["duration_h"]) or "")
    for c in sorted(commands, key=lambda c: c.index):  # the first in the file is named
        if c.at_us >= duration_us:
            raise ScenarioError(f"{c.name}: at or after the end of the run")
    for pr in sorted(presses, key=lambda pr: pr.index):
        if pr.at_us >= duration_us:
            raise ScenarioError(f"{pr.name}: at or after the end of the run")
    return Scenario(
        name=name,
        board=board,
        syringe_id=sc.pump.syringe,
        fill_nl=fill_nl,
        rate=rate,
        dose=(p.dose_ug_per_24h, conc) if p and p.dose_ug_per_24h and conc else None,
        program_text=_describe(p.rate_ml_per_h, p.dose_ug_per_24h, conc)
        if p
        else "set by the command script",
        duration_us=duration_us,
        start_tick=sc.run.start_tick,
        events=events,
        plant_seed=(sc.plant.seed if sc.plant else 0) if sc.plant or sc.fault else None,
        ceiling=sc.plant.ceiling if sc.plant else "medium",
        faults=[(float(_exact(f.at_h) * 3600), f.kind) for f in sc.fault],
        commands=commands,
        presses=presses,
        serial=pump_serial(sc.pump.serial),
        power=_power(sc.power),
    )


def _power(pw: _Power | None) -> Power | None:
    if pw is None:
        return None
    evs = sorted((float(_exact(e.at_h) * 3600), e.kind) for e in pw.event)
    return Power(
        pw.battery, pw.charge_pct * 10, pw.capacity_pct * 10, pw.resistance_x, pw.mains, evs
    )


def pump_serial(serial: str | None) -> str:
    """A pump serial as the pump takes it, or ScenarioError naming pump.serial."""
    if serial is None:
        return ""
    try:
        return api.check_serial(serial)
    except ValueError as e:
        raise ScenarioError(f"pump.serial: {e}") from None


def load(path: Path) -> Scenario:
    try:
        text = path.read_text()
    except OSError as e:
        raise ScenarioError(f"cannot read {path}: {e.strerror}") from None
    return parse(text, path.stem)


def plant_scenario(
    syringe: str,
    fill: float | str,
    rate: float | str,
    hours: float | str,
    seed: int,
    ceiling: str,
    faults: list[tuple[float, str]] | None = None,
    board: str = "pico",
) -> str:
    """A scenario's text: a mL/h program on the plant, with faults at given hours (the
    benchmarks and their tests build theirs with it)."""
    text = (
        f'[pump]\nboard = "{board}"\nsyringe = "{syringe}"\nfill_ml = {fill}\n'
        f"[program]\nrate_ml_per_h = {rate}\n[run]\nduration_h = {hours}\n"
        f'[plant]\nseed = {seed}\nceiling = "{ceiling}"\n'
    )
    return text + "".join(f'[[fault]]\nat_h = {at}\nkind = "{k}"\n' for at, k in faults or [])
