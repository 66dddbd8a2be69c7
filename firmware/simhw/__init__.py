# Models of the board's hardware for host runs: the emulator (pumphost.sim) and the core tests
# (tests/core, on CPython and the MicroPython unix port). Here, not in pump/ or drivers/, because
# boards/build/manifest.py freezes only those packages and the top-level modules it names: the
# board's image never carries these, and both hosts find them on the firmware path they already
# import pump from (the venv's pumpfirmware.pth, tests/upy_run.py). Plain MicroPython: no
# annotations, no dataclasses, nothing from CPython's library.
