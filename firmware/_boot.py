# Frozen as the image's _boot.py, which MicroPython runs on every reset, soft resets from the
# raw REPL included (those run neither boot.py nor main.py: mpremote's connect-time reset is
# one). So the pump is always defined at the REPL, and always comes back safe: motor off,
# and an alarm if a reset cut a running or paused program.
from machine import Pin

import board

# Motor driver off before anything else can fail: a soft reset stops the PIO but leaves
# the EN pin as it was, energised.
Pin(board.PINS["en"], Pin.OUT, value=1 if board.EN_ACTIVE_LOW else 0)

# The filesystem (littlefs on the flash after the image), as the port's own _boot.py does.
import rp2  # noqa: E402
import vfs  # noqa: E402

# The first 640 KB only (drivers.flashlog.FS_BYTES, not imported here: modules imported before
# the mount would shadow their deployed copies); the rest is the dose log's raw region.
bdev = rp2.Flash(start=0, len=655360)
try:
    fs = vfs.VfsLfs2(bdev, progsize=256)
except OSError:
    vfs.VfsLfs2.mkfs(bdev, progsize=256)
    fs = vfs.VfsLfs2(bdev, progsize=256)
vfs.mount(fs, "/")
del vfs, bdev, fs, rp2, Pin

# Modules on the flash (make deploy) shadow the frozen ones, so mount first.
from boardapp import pump  # noqa: E402, F401
