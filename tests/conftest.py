import sys
from pathlib import Path

# The shared core tests import their helpers as a top-level module, as on MicroPython.
sys.path.insert(0, str(Path(__file__).parent / "core"))
