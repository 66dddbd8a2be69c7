"""The mpy-cross check really rejects code MicroPython cannot compile."""

from pathlib import Path

from pumphost.mpycheck import check


def test_accepts_micropython_code(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("from micropython import const\n_X = const(3)\n")
    assert check([tmp_path]) == 0


def test_rejects_syntax_micropython_lacks(tmp_path: Path) -> None:
    # Structural pattern matching is CPython-only.
    (tmp_path / "bad.py").write_text("match 1:\n    case 1:\n        pass\n")
    assert check([tmp_path]) == 1
