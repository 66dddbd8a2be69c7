# The log's share of the service step: a DELIVERED record every delivered_s while running,
# and the flash log's own housekeeping (pump.logring: uptime, leftovers, erase-ahead).
from pump import events
from pump.controller import RUNNING
from pump.ticks import ticks_add, ticks_diff

_LOG_SERVICE_US = 1000000


class LogUpkeep:
    def __init__(self, log, delivered_s, now):
        self._log = log
        # The flash log keeps its own housekeeping; the in-RAM one has none.
        self._log_service = getattr(log, "service", None)
        self._every_us = delivered_s * 1000000
        self._delivered_due = 0  # tick of the next DELIVERED record while running
        self._log_due = now  # tick of the log's next upkeep

    def started(self, now):
        """The motor (re)starts at `now`: the next DELIVERED record is delivered_s later."""
        self._delivered_due = ticks_add(now, self._every_us)

    def service(self, now, motion):
        """A DELIVERED record when due (the steps to the step: motion.issued()), the flash
        log's upkeep. A record that cannot be written now (no memory: the heap is locked)
        is written at a later step."""
        try:
            # The due time first: it is not yet due at all but one step a minute. (While the
            # motor is off the due time is stale, and the state says no without a call.)
            if (
                ticks_diff(now, self._delivered_due) >= 0
                and motion.ctl.state == RUNNING
                and motion.delivering()
            ):
                vn, vd = motion.ctl.vol
                n = motion.issued()  # to the step, not to the executor's last whole entry
                q, r = divmod(n, vd)  # nL without ints beyond 31 bits
                self._log.add(now, events.DELIVERED, q * vn + r * vn // vd, n)
                self._delivered_due = ticks_add(self._delivered_due, self._every_us)
            # The log's upkeep once a second is plenty, and it costs more than the rest of an
            # idle service step.
            if self._log_service is not None and ticks_diff(now, self._log_due) >= 0:
                self._log_due = ticks_add(now, _LOG_SERVICE_US)
                self._log_service(now)
        except MemoryError:
            pass
