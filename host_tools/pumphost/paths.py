"""Where the repository's firmware and board definitions live, and how to import the core."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
BOARDS = REPO / "boards"
CACHE = REPO / ".cache"
_SHIM = Path(__file__).resolve().parent / "upy"


def use_firmware_core() -> None:
    """Make `import pump` load the firmware's control core, unchanged, on CPython."""
    for path in (str(_SHIM), str(FIRMWARE)):
        if path not in sys.path:
            sys.path.insert(0, path)


use_firmware_core()
