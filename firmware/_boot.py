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

# The alarm buzzer and LED from here on (drivers/alarmsignal.py: PIO and DMA, no Python once
# started), after the mount so that a deployed copy is the one used: a soft or watchdog reset
# that cut a running or paused delivery sounds the high-priority alarm now, before the pump is
# built (boardapp hands the same signal to the pump, which raises delivery_interrupted), and
# so does a pump that fails to come up at all.
_HIGH = 3  # pump.alarms.HIGH (a broken deployed pump/ must not stop the alarm)
try:
    from drivers import alarmsignal
    from drivers.retained import Retained
    from pump import controller as _ctl
    from pump.recovery import CODES

    _kept = Retained().read()
    _signal = alarmsignal.get(board)
    if _kept is not None and _kept[0] in (CODES[_ctl.RUNNING], CODES[_ctl.PAUSED]):
        _signal.show(_HIGH, _HIGH)
    del Retained, CODES, _ctl
except Exception as e:  # noqa: BLE001 - the pump comes up without its buzzer and LED
    alarmsignal = None
    print("alarm signal: not started:", repr(e))

# Modules on the flash (make deploy) shadow the frozen ones, so mount first.
try:
    from boardapp import pump  # noqa: E402, F401
except Exception:
    if alarmsignal is not None:  # no pump: a high-priority alarm until a reset
        try:
            alarmsignal.get(board).show(_HIGH, _HIGH)
        except Exception:  # noqa: BLE001, S110 - what boardapp raised is the news
            pass
    raise
