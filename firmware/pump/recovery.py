# Recovery at boot: what a reset or a power cut left of a program. A soft or watchdog reset
# leaves the retained state (drivers/retained.py: RAM and the watchdog's scratch registers); a
# power cut leaves only the flash log. Either way a program that was running or paused is
# reported, and never restarted by itself (IEC 60601-2-24).
from pump import controller as ctl
from pump import events, logrec

# State codes kept across resets (Pump's saved state and drivers/retained.py).
CODES = {ctl.IDLE: 1, ctl.RUNNING: 2, ctl.PAUSED: 3, ctl.STOPPED: 4, ctl.COMPLETE: 5}
_INTERRUPTIBLE = (2, 3)
_CAUSES = {"a soft reset": events.CAUSE_SOFT, "a watchdog reset": events.CAUSE_WATCHDOG}

_RUNNING_CODES = (events.START, events.RESUME, events.DELIVERED)
_ENDED_CODES = (events.STOP, events.COMPLETE, events.BOOT, events.LOAD)
_LOOK_BACK = 48  # records: a running pump writes DELIVERED every minute


def ul_str(nl_num, nl_den):
    """A volume given as a fraction of nL, in uL to the nL: "1.632"."""
    ul1000 = nl_num // nl_den  # whole nL
    return "%d.%03d" % (ul1000 // 1000, ul1000 % 1000)


def _cut_program(log):
    """From the flash log's newest records: ("running" | "paused", steps, nL) if a program
    was in force when the board lost power, else None (the in-RAM log has no past)."""
    read = getattr(log, "read", None)
    if read is None:
        return None
    n = log.count
    page = read(n - _LOOK_BACK if n > _LOOK_BACK else 0, _LOOK_BACK)
    state, steps, nl, counted = None, 0, 0, False
    off = len(page) - logrec.ENTRY
    while off >= 0:  # newest first
        seq = int.from_bytes(page[off : off + 4], "little")
        rec = page[off + 4 : off + logrec.ENTRY]
        off -= logrec.ENTRY
        if not logrec.check(rec, seq):
            continue
        code, _, a, b = logrec.unpack(rec)
        if code == events.DELIVERED and not counted:  # cumulative: the newest says most
            nl, steps, counted = a, b, True
        if code in _ENDED_CODES:
            return None if state is None else (state, steps, nl)
        if state is None and code in _RUNNING_CODES:
            state = "running"
        elif state is None and code == events.PAUSE:
            state = "paused"
    return None if state is None else (state, steps, nl)


def boot(retained, log, cause, now):
    """Log the BOOT record (with the steps delivered before, if a program was cut) and return
    the delivery_interrupted alarm's text if one was running or paused, else None. The
    caller raises the alarm; the user must load and program again (which clears it)."""
    before = retained.read() if retained is not None else None
    interrupted = before is not None and before[0] in _INTERRUPTIBLE
    cut = None if before is not None else _cut_program(log)
    steps = before[1] if interrupted else (cut[1] if cut else -1)
    log.add(now, events.BOOT, _CAUSES.get(cause, events.CAUSE_POWER_ON), steps)
    if interrupted:
        _, steps, vol_num, vol_den = before
        return (
            "delivery interrupted by %s after at least %s uL (%d steps); load and program "
            "again to continue" % (cause, ul_str(steps * vol_num, vol_den), steps)
        )
    if cut is not None:
        # A power cut (nothing retained in RAM or the scratch registers): the flash log
        # says a program was running or paused. Not a silent stop either.
        return (
            "delivery interrupted by a power cut while %s, after at least %s uL "
            "(%d steps, the log's last count); load and program again to continue"
            % (cut[0], ul_str(cut[2], 1), cut[1])
        )
    return None
