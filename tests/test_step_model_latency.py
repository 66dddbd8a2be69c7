"""The step executor model's start latency is the PIO driver's: one figure, held in two places
because the driver's module imports rp2 and the model's is never frozen; README states it."""

import re

from pumphost.paths import REPO
from simhw.stepper import START_LATENCY_US


def test_the_model_starts_as_late_as_the_driver_dates_it() -> None:
    src = (REPO / "firmware" / "drivers" / "pio_stepper.py").read_text()
    m = re.search(r"^_LATENCY_US = const\((\d+)\)", src, re.M)
    assert m is not None
    assert int(m.group(1)) == START_LATENCY_US


def test_readme_states_the_models_latency() -> None:
    readme = " ".join((REPO / "README.md").read_text().split())
    assert f"its {START_LATENCY_US} us start latency" in readme
