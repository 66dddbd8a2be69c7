"""Run the shared core tests (tests/core) on the board's own interpreter."""

from __future__ import annotations

from pathlib import Path

from dut import DUT

TESTS = Path(__file__).resolve().parents[1] / "tests"
FIRMWARE = TESTS.parent / "firmware"
_HELPERS = ("harness.py", "fakestepper.py")
# fakestepper's step executor model: never frozen into the image, so it goes beside the tests
_MODELS = ("simhw/__init__.py", "simhw/stepper.py")


def run_core_module(dut: DUT, module: str) -> str:
    files = {"/tests/upy_run.py": (TESTS / "upy_run.py").read_bytes()}
    for name in (*_HELPERS, f"{module}.py"):
        files[f"/tests/core/{name}"] = (TESTS / "core" / name).read_bytes()
    for name in _MODELS:
        files[f"/tests/core/{name}"] = (FIRMWARE / name).read_bytes()
    dut.put(files)
    return dut.exec(
        "import sys\n"
        "if '/tests' not in sys.path:\n    sys.path.insert(0, '/tests')\n"
        f"import upy_run\nupy_run.run([{module!r}])\n",
        timeout=600,
    )
