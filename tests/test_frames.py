"""Frames of the functions that run for every load-cell sample or protocol poll stay on the C
stack.

MicroPython (no pystack, as on the rp2) gives a call whose frame (n_state words plus 12 bytes
per exception handler level) is over 44 bytes a heap block first, and the heap's allocator
searches its table from the first free block for a run that fits: about 1,000 instructions
a call on a tidy heap, 19,000 on one full of boot's garbage. These functions run 10 to 20
times a second whatever the rate, so they are kept at 44 bytes or under. Compiled with the
pinned tree's mpy-cross, read with its mpy-tool (both in .cache once the images were built).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pumphost import paths

TREE = paths.CACHE / "micropython" / "tree"
MPY_CROSS = TREE / "mpy-cross" / "build" / "mpy-cross"
MPY_TOOL = TREE / "tools" / "mpy-tool.py"
ON_STACK = 44  # objfun.c: VM_MAX_STATE_ON_STACK, sizeof(mp_uint_t) * 11
EXC_LEVEL = 12  # sizeof(mp_exc_stack_t) on a 32-bit port

HOT = {
    "protolink.py": ["poll"],  # every 20-100 ms, whatever the pump does
    "pump/loadcell.py": ["take", "present"],  # every sample (10/s) while running
    "pump/runner.py": ["service"],  # every service step
}


def _frames(src: Path, tmp: Path) -> dict[str, list[int]]:
    out = tmp / (src.stem + ".mpy")
    subprocess.run([str(MPY_CROSS), "-o", str(out), str(src)], check=True)
    dump = subprocess.run(
        [sys.executable, str(MPY_TOOL), "-d", str(out)], capture_output=True, text=True, check=True
    ).stdout
    sizes: dict[str, list[int]] = {}
    name = None
    for line in dump.splitlines():
        if line.startswith("simple_name:"):
            name = line.split(":", 1)[1].strip()
        m = re.match(r"\s+prelude: \((\d+), (\d+),", line)
        if m and name is not None:
            sizes.setdefault(name, []).append(int(m[1]) * 4 + int(m[2]) * EXC_LEVEL)
            name = None
    return sizes


@pytest.mark.skipif(
    not (MPY_CROSS.exists() and MPY_TOOL.exists()),
    reason="SKIPPED LOUDLY: no pinned MicroPython tree with mpy-cross built yet: `make test-upy` "
    "builds it and runs these",
)
@pytest.mark.parametrize("rel", sorted(HOT))
def test_hot_functions_keep_their_frames_on_the_c_stack(rel: str, tmp_path: Path) -> None:
    sizes = _frames(paths.FIRMWARE / rel, tmp_path)
    for fn in HOT[rel]:
        assert fn in sizes, (rel, fn)
        assert max(sizes[fn]) <= ON_STACK, (rel, fn, sizes[fn])
