# Frozen manifest of the fidelity image: the port's own modules (_boot.py mounts littlefs,
# rp2.py) and asyncio, as in RPI_PICO, without the micropython-lib packages it require()s
# (micropython-lib is not in the Debian source tarball) and without our pump firmware.
# ruff: noqa: F821 (freeze and include are provided by makemanifest.py)
freeze("$(PORT_DIR)/modules")
include("$(MPY_DIR)/extmod/asyncio")
