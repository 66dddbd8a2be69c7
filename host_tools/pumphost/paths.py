"""Where the repository's firmware and board definitions live.

The firmware's control core (`import pump`) and the `micropython` shim it needs on CPython
are on the import path through the venv's pumpfirmware.pth (the Makefile writes it)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
BOARDS = REPO / "boards"
CACHE = REPO / ".cache"
