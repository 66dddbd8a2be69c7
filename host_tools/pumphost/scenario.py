"""Scenario files (TOML): a pump, a program and a run, validated into exact integers."""

import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pumphost import boards, paths

paths.use_firmware_core()
from pump import rate as core_rate  # noqa: E402
from pump import syringes  # noqa: E402

_STRICT = ConfigDict(extra="forbid", strict=True)
Positive = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(gt=0)]


class ScenarioError(ValueError):
    """A one-line, user-facing problem with a scenario file."""


class _Pump(BaseModel):
    model_config = _STRICT
    board: str
    syringe: str
    fill_ml: Positive


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
    action: Literal["pause", "resume", "rate", "stop"]
    rate_ml_per_h: Positive | None = None
    dose_ug_per_24h: PositiveInt | None = None


class _Run(BaseModel):
    model_config = _STRICT
    duration_h: Annotated[float, Field(gt=0, le=24 * 31)]
    # Tick counter at power-up; by default close to the 2**30 wrap so every run crosses it.
    start_tick: Annotated[int, Field(ge=0, lt=1 << 30)] = (1 << 30) - 5_000_000


class _Scenario(BaseModel):
    model_config = _STRICT
    pump: _Pump
    program: _Program
    run: _Run
    events: list[_Event] = []


@dataclass(frozen=True)
class Event:
    at_us: int
    action: str
    rate: tuple[int, int] | None
    text: str  # as the user wrote it, for summaries


@dataclass(frozen=True)
class Scenario:
    name: str
    board: boards.Board
    syringe_id: str
    fill_nl: int
    rate: tuple[int, int]  # nL/h as an exact fraction
    program_text: str
    duration_us: int
    start_tick: int
    events: list[Event] = field(default_factory=list)


def _exact(value: float) -> Fraction:
    # The decimal the user wrote (TOML floats round-trip through repr), not the binary float.
    return Fraction(repr(value))


def _describe(ml_h: float | None, dose: int | None, conc: int | None) -> str:
    return f"{ml_h:g} mL/h" if ml_h is not None else f"{dose} ug/24 h at {conc} ug/mL"


def _rate(where: str, ml_h: float | None, dose: int | None, conc: int | None) -> tuple[int, int]:
    key = f"{where}.rate_ml_per_h" if ml_h is not None else f"{where}.dose_ug_per_24h"
    try:
        if ml_h is not None:
            f = _exact(ml_h)
            return core_rate.from_ml_per_h(f.numerator, f.denominator)
        if conc is None:
            raise core_rate.RateError("a dose needs program.concentration_ug_per_ml")
        return core_rate.from_dose(dose, conc)
    except core_rate.RateError as e:
        raise ScenarioError(f"{key}: {e}") from None


def _first_error(err: ValidationError) -> str:
    e = err.errors()[0]
    loc = ".".join(str(p) for p in e["loc"])
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown key"
    elif e["type"] == "missing":
        msg = "missing key"
    return f"{loc}: {msg}" if loc else msg


def parse(text: str, name: str = "scenario") -> Scenario:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"not valid TOML: {e}") from None
    try:
        sc = _Scenario.model_validate(raw)
    except ValidationError as e:
        raise ScenarioError(_first_error(e)) from None
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
    p = sc.program
    conc = p.concentration_ug_per_ml
    rate = _rate("program", p.rate_ml_per_h, p.dose_ug_per_24h, conc)
    events = []
    for i, ev in enumerate(sorted(sc.events, key=lambda e: e.at_min)):
        new_rate = None
        text = ev.action
        if ev.action == "rate":
            if (ev.rate_ml_per_h is None) == (ev.dose_ug_per_24h is None):
                raise ScenarioError(f"events.{i}: a rate event needs one of rate or dose")
            new_rate = _rate(f"events.{i}", ev.rate_ml_per_h, ev.dose_ug_per_24h, conc)
            text = "rate " + _describe(ev.rate_ml_per_h, ev.dose_ug_per_24h, conc)
        at_us = int(_exact(ev.at_min) * 60_000_000)
        events.append(Event(at_us, ev.action, new_rate, text))
    return Scenario(
        name=name,
        board=board,
        syringe_id=sc.pump.syringe,
        fill_nl=fill_nl,
        rate=rate,
        program_text=_describe(p.rate_ml_per_h, p.dose_ug_per_24h, conc),
        duration_us=int(_exact(sc.run.duration_h) * 3_600_000_000),
        start_tick=sc.run.start_tick,
        events=events,
    )


def load(path: Path) -> Scenario:
    try:
        text = path.read_text()
    except OSError as e:
        raise ScenarioError(f"cannot read {path}: {e.strerror}") from None
    return parse(text, path.stem)
