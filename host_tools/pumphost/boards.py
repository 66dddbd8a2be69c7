"""Board definitions from boards/<name>/board.py, the same file the firmware freezes."""

import runpy
from dataclasses import dataclass

from pumphost.paths import BOARDS

# A virtual board that shares another board's definition.
_ALIASES = {"vpico": "pico"}


@dataclass(frozen=True)
class Board:
    name: str
    lead_um: int
    full_steps_per_rev: int
    microsteps: int
    pins: dict[str, int]
    load_cell: bool = False  # an HX711 and a syringe switch are fitted (PINS names them)
    syringe_seated: int = 0  # the switch's pin level with a syringe in place
    dir_forward: int = 1  # the DIR level that moves the plunger towards the tip


def available() -> list[str]:
    names = [p.parent.name for p in BOARDS.glob("*/board.py")]
    return sorted(names + [a for a, b in _ALIASES.items() if b in names])


def load(name: str) -> Board:
    path = BOARDS / _ALIASES.get(name, name) / "board.py"
    if not name.replace("-", "").isalnum() or not path.is_file():
        raise ValueError(f"unknown board {name!r} (known: {', '.join(available())})")
    ns = runpy.run_path(str(path))
    mech = ns["MECHANICS"]
    return Board(
        name=name,
        lead_um=mech["lead_um"],
        full_steps_per_rev=mech["full_steps_per_rev"],
        microsteps=mech["microsteps"],
        pins=dict(ns["PINS"]),
        load_cell=bool(ns.get("LOAD_CELL", False)),
        syringe_seated=int(ns.get("SYRINGE_SEATED", 0)),
        dir_forward=int(ns.get("DIR_FORWARD", 1)),
    )
