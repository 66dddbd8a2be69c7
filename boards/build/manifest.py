# Frozen manifest for our rp2 images (run by MicroPython's makemanifest.py, cwd = this directory).
# No require(): micropython-lib is not in the Debian source tarball.
# PUMP_BOARD (set by rp2.sh) selects boards/<board>/board.py, frozen as module `board`.
# ruff: noqa: F821 (freeze, include, package and module are provided by makemanifest.py)
import os

# The port's rp2.py (asm_pio and friends); its _boot.py is replaced by ours, which mounts the
# filesystem the same way and then brings the pump up.
module("rp2.py", base_path="$(PORT_DIR)/modules")
include("$(MPY_DIR)/extmod/asyncio")

_FIRMWARE = "../../firmware"
package("pump", base_path=_FIRMWARE)
# Frozen only once they exist, so the image builds while the firmware is being written.
if os.path.isdir(_FIRMWARE + "/drivers"):
    package("drivers", base_path=_FIRMWARE)
module("_boot.py", base_path=_FIRMWARE)
module("boardapp.py", base_path=_FIRMWARE)
module("protolink.py", base_path=_FIRMWARE)


def _image_id():
    # A digest of everything frozen from this repo: a new image (a reflash) has a new id, and
    # protolink.follow_image() drops a clinical pump back to engineering mode on it.
    import hashlib

    h = hashlib.sha256()
    for top in (_FIRMWARE, ".."):
        for root, dirs, files in sorted(os.walk(top)):
            dirs.sort()
            for f in sorted(files):
                if f.endswith((".py", ".json")) and "__pycache__" not in root:
                    with open(os.path.join(root, f), "rb") as fh:
                        h.update(f.encode() + fh.read())
    out = "../../.cache/imageid"
    os.makedirs(out, exist_ok=True)
    with open(out + "/imageid.py", "w") as fh:
        fh.write("ID = %r\n" % h.hexdigest()[:16])
    return out


module("imageid.py", base_path=_image_id())

# A virtual board without its own board.py has the Pico's pins and mechanics.
for _board in (os.environ.get("PUMP_BOARD", "pico"), "pico"):
    if os.path.isfile("../%s/board.py" % _board):
        module("board.py", base_path="../" + _board)
        break
# The battery definitions (issue 21): drivers/supply.py gives the pump the one board.BATTERY names.
module("batteries.py", base_path="..")
