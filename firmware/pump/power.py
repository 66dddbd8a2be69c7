# The supply the pump knows (issue 21): a battery gauge that counts charge by the energy
# model (pump/energy.py) and corrects it with the cell's voltage curve, the low-battery and
# depleted alarms, and mains (USB VBUS) lost and restored. Pure logic: readings and the
# current the model gives are passed in, time is the pump's clock (ticks, us), integers only
# (mV, uA, uAh, ms). The cell is a boards/batteries.py definition.
#
# Why counting first and voltage second: an alkaline cell's voltage falls all along its life,
# but sags under the motor's current by I x R, and R varies several-fold between brands and
# with temperature (the MHRA's T34 reports: cells that shut pumps down early); a Li-ion
# cell's voltage is flat between 20 and 80 %, where it says little. So the counted charge
# carries the gauge, rest readings (the motor off) pull it towards the curve, as hard as the
# curve is steep there, once a minute, and the cell's real resistance is learned from a rest
# reading and the loaded one after it. An alarm is decided from the charge, never from one
# sagging reading: a fresh cell with a high resistance raises no false low-battery alarm.
# Only a cell that cannot hold the supply under load (hold_mv) stops the pump at once.
from micropython import const

from pump import alarms, energy, events
from pump import controller as ctl
from pump.ticks import ticks_add, ticks_diff

# IEC 60601-2-24 (pump-anchors.md, "Battery"): a warning 30 min before delivery stops, an
# alarm and stop at least 3 min before the end. LOW_S gives 18 min more than the 30 for the
# gauge's error (a cell weaker than rated, run without a rest reading, is warned 22-28 min
# ahead at 40: pumphost.bench.rundowns); on a battery of days it costs nothing. RESERVE_S
# keeps 5 min of the alarm state (motor off, screen on, buzzer sounding) after the depleted
# stop, so the high alarm lasts past 3 min and the flash log's records (the stop, the alarm)
# are written while the supply still holds.
LOW_S = const(2880)  # 48 min
RESERVE_S = const(300)
WINDOW_MS = const(60000)  # voltage corrections: once a minute, from the minute's average
FRESH_N = const(4)  # readings averaged to set the charge after a boot or a new cell
SAG_N = const(3)  # loaded readings in a row below hold_mv: the cell cannot hold the supply
PERIOD_US = const(500000)  # PumpPower reads the supply at most this often (the calm period)
REST_AGE_MS = const(10000)  # a rest reading this recent pairs with a loaded one (for R)
# A slope (mV per 100 permille of charge) at which a reading is worth as much as the count:
# the ADC's noise on the cell (about 1 % through the divider) over a tenth of the curve.
_SLOPE_K = const(100)
_GAIN_DIV = const(8)  # at most 1/8 of the difference per minute: readings are averaged in
LEARN_PM = const(50)  # the curve's fall (permille) over which a weak cell's capacity is learned

# What changed, for the log's SUPPLY records (pump.events.SUPPLY, a).
MAINS_LOST = const(1)
MAINS_RESTORED = const(2)
CELL_NEW = const(3)  # a new cell (a swap, or one fitted after none): the gauge re-read it
CELL_REMOVED = const(4)
LOW = const(5)  # the low-battery warning came (b: minutes left)
DEPLETED = const(6)  # the depleted stop (b: the cell's mV)

# The alarm kinds this module raises (pump.alarms names them).
ALARM_LOW = alarms.BATTERY_LOW
ALARM_DEPLETED = alarms.BATTERY_DEPLETED


def cell_mv(cell, vsys_mv, aux_mv, vbus):
    """The cell's voltage from the board's readings (VSYS in mV, from ADC3 x 3; the ADC2
    pin in mV or -1; VBUS present), by the definition's "sense"; -1 when it cannot be read
    (a cell on VSYS while mains feeds VSYS)."""
    how, k = cell["sense"]
    if how == "divider":
        return aux_mv * k if aux_mv >= 0 else -1
    if vbus or vsys_mv < 0:
        return -1
    return vsys_mv + k


def _interp(curve, mv):
    # Permille of charge at rest voltage mv: the curve falls from its first point to its last.
    if mv >= curve[0][0]:
        return curve[0][1]
    prev = curve[0]
    for p in curve:
        if mv >= p[0]:
            return p[1] + (mv - p[0]) * (prev[1] - p[1]) // (prev[0] - p[0])
        prev = p
    return 0


def _slope(curve, mv):
    # mV per 100 permille of the curve's segment at mv.
    prev = curve[0]
    for p in curve[1:]:
        if mv >= p[0]:
            break
        prev = p
    return (prev[0] - p[0]) * 100 // max(1, prev[1] - p[1])


class Gauge:
    """Charge left in the cell above its cut-off, in uAh (-1 until read)."""

    def __init__(self, cell):
        self.cell = cell
        self.cap_mah = cell["capacity_uah"] // 1000
        self.r_mohm = cell["r_int_mohm"]  # learned from rest/load pairs
        self.absent = False
        self.sag = 0  # loaded readings in a row below hold_mv
        self.mv = -1  # the last reading
        self.restart()

    def restart(self):
        """A new cell (or a boot): the charge is read again from the voltage curve."""
        self.charge = -1
        self._acc = 0  # uA x ms not yet counted as a whole uAh
        self._sum = self._n = 0  # compensated readings of this window (or of the first read)
        self._rest_sum = self._rest_n = 0
        self._win = 0  # ms into this window
        self._rest_n_last = 0
        self._rest_mv = -1  # the last rest reading, its current and its age (ms)
        self._rest_ua = 0
        self._rest_age = 0
        self.r_mohm = self.cell["r_int_mohm"]
        self.r_known = False  # learned from a rest/load pair since the (re)read
        self.cap_mah = self.cell["capacity_uah"] // 1000  # learned down for a weak cell
        self._pm0 = -1  # the curve's permille at the learning's baseline
        self._pm0_kind = 0  # 1: a rest window, 2: a loaded one
        self._drawn = 0  # uAh counted since then
        self.sag = 0

    def permille(self):
        return -1 if self.charge < 0 else min(1000, self.charge // self.cap_mah)

    def count(self, dt_ms, ua):
        """dt_ms of drain at ua (the energy model's current): the counted share."""
        self._rest_age += dt_ms
        self._win += dt_ms
        if self.charge < 0:
            return
        while dt_ms > 0:
            d = min(dt_ms, 1000)  # keeps ua x d a small integer on the rp2 (below 2^30)
            self._acc += ua * d
            dt_ms -= d
        q = self._acc // 3600000
        self._acc -= q * 3600000
        self.charge = max(0, self.charge - q)
        self._drawn += q

    def reading(self, mv, ua, loaded, mains=False):
        """A reading of the cell (mV) while it supplies ua; loaded: the motor is on; mains:
        VBUS feeds the pump (only then can the cell be missing: off mains the pump runs on
        it, however low it reads). Returns CELL_NEW, CELL_REMOVED or 0."""
        cell = self.cell
        self.mv = mv
        if mains and mv < cell["absent_mv"]:
            if self.absent:
                return 0
            self.absent = True
            self.restart()
            return CELL_REMOVED
        event = 0
        if self.absent:
            self.absent = False
            event = CELL_NEW
        if loaded:
            self.sag = self.sag + 1 if mv < cell["hold_mv"] else 0
            di = (ua - self._rest_ua) // 1000  # mA
            if self._rest_mv > 0 and self._rest_age <= REST_AGE_MS and di >= 10:
                r = (self._rest_mv - mv) * 1000 // di  # mV / mA = ohm: x 1000 for mohm
                r0 = cell["r_int_mohm"]
                self.r_mohm = min(30 * r0, max(r0 // 2, self.r_mohm + (r - self.r_mohm) // 2))
                self.r_known = True
        else:
            self.sag = 0
            if 0 < self._rest_mv and mv > self._rest_mv + cell["swap_mv"] and not event:
                self.restart()  # a fresh cell went in between two readings
                event = CELL_NEW
            self._rest_mv, self._rest_ua, self._rest_age = mv, ua, 0
        ocv = mv + ua * self.r_mohm // 1000000  # uA x mohm = nV: / 10^6 for mV
        if loaded:
            self._sum += ocv
            self._n += 1
        else:
            self._rest_sum += ocv
            self._rest_n += 1
        if self.charge < 0:
            n = self._n + self._rest_n
            if n >= FRESH_N:
                ocv = (self._sum + self._rest_sum) // n
                self.charge = _interp(cell["curve"], ocv) * self.cap_mah
                self._end_window()
        elif self._win >= WINDOW_MS:
            self._correct()
        return event

    def _end_window(self):
        self._sum = self._n = self._rest_sum = self._rest_n = self._win = 0

    def _correct(self):
        # Rest readings if the minute had any, else the compensated loaded ones.
        self._rest_n_last = self._rest_n
        if self._rest_n:
            ocv = self._rest_sum // self._rest_n
        elif self._n:
            ocv = self._sum // self._n
        else:
            return
        self._end_window()
        curve = self.cell["curve"]
        pm = _interp(curve, ocv)
        # Loaded windows teach the capacity only once R is known: with an unknown, higher R
        # the sag grows as the voltage falls (the current rises), which would look like a
        # weak cell (a false low-battery alarm on a fresh high-resistance cell).
        if self._rest_n_last or self.r_known:
            self._learn(pm, 1 if self._rest_n_last else 2)
        err = pm - self.charge // self.cap_mah  # permille
        s = _slope(curve, ocv)
        s2 = s * s
        step = err * s2 // ((s2 + _SLOPE_K * _SLOPE_K) * _GAIN_DIV)
        self.charge = max(0, self.charge + step * self.cap_mah)

    def _learn(self, pm, kind):
        # A cell weaker than rated (old stock, cold, a brand that runs short: the MHRA's T34
        # reports): the curve's permille falls faster than the counted charge says. Once it
        # fell by LEARN_PM since the charge was read, the capacity is what was drawn over
        # that fall (never above the rating), and the charge at most the curve's share of it.
        # Like with like: a fall measured between two rest windows, or two loaded ones (the
        # compensation's error, I x the unknown part of R, is then the same at both ends).
        if self._pm0 < 0 or kind != self._pm0_kind:
            self._pm0, self._pm0_kind, self._drawn = pm, kind, 0
            return
        fell = self._pm0 - pm
        if fell < LEARN_PM or self._drawn <= 0:
            return
        cap = max(self.cell["capacity_uah"] // 4000, min(self.cap_mah, self._drawn // fell))
        if cap < self.cap_mah:
            self.cap_mah = cap
            self.charge = min(self.charge, pm * cap)


class Supply:
    """The gauge and the supply's alarms. sense.read() -> (vsys_mv, aux_mv, vbus): the
    board's readings (drivers/supply.py; the emulator's battery). sink: what the pump does
    about them: record(what, b) writes a SUPPLY record, warn(kind, text) latches a medium
    alarm, clear(kind) clears one, deplete(kind, text) stops the motor with a high alarm
    (pump/app.py makes one from the pump)."""

    def __init__(self, cell, sense, sink, now, low_s=LOW_S, reserve_s=RESERVE_S):
        self.cell = cell
        self.gauge = Gauge(cell)
        self._sense = sense
        self._sink = sink
        self._last = now
        self.low_s = low_s
        # The charge kept for the alarm state after the depleted stop.
        alarm = energy.State(motor=False, cpu_pm=100, display=True, buzzer_pm=300)
        self.reserve_uah = energy.current_ua(cell, cell["cut_off_mv"], alarm) * reserve_s // 3600
        self.mains = None  # unknown until the first reading
        self.ua = 0  # the model's current at the last service
        self.run_ua = 0  # ... at the last service with the motor on
        self.low = False
        self.depleted = False

    def service(self, now, state):
        """Count, read, decide. now: the pump's clock (us ticks); state: an
        energy.State of what the pump does now."""
        dt = ticks_diff(now, self._last)
        if dt < 0:
            dt = 0
        dt_ms = dt // 1000
        self._last = now - (dt - dt_ms * 1000)  # the sub-ms rest carries over
        g, sink = self.gauge, self._sink
        vsys, aux, vbus = self._sense.read()
        vbus = bool(vbus)
        mv = cell_mv(self.cell, vsys, aux, vbus)
        ua = energy.current_ua(self.cell, mv if mv > 0 else self.cell["cut_off_mv"], state)
        self.ua = ua
        if state.motor:
            self.run_ua = ua
        if vbus != self.mains:
            if self.mains is not None:
                sink.record(MAINS_RESTORED if vbus else MAINS_LOST, max(mv, -1))
            self.mains = vbus
            if vbus:
                self._calm()
        if not vbus:
            g.count(dt_ms, ua)  # on mains the cell supplies nothing
        else:
            g.count(dt_ms, 0)
        if mv >= 0:  # on mains the cell rests: no current, no sag
            event = g.reading(mv, 0 if vbus else ua, state.motor and not vbus, vbus)
            if event:
                sink.record(event, mv)
                self._calm()
        if vbus or g.absent:
            return
        if not self.depleted and (g.sag >= SAG_N or 0 <= g.charge <= self.floor_uah()):
            self.depleted = True
            sink.record(DEPLETED, mv)
            sink.deplete(ALARM_DEPLETED, "battery depleted (%d mV): change it" % mv)
            return
        left = self.time_left_s()
        if not self.low and not self.depleted and left is not None and left <= self.low_s:
            self.low = True
            sink.record(LOW, left // 60)
            sink.warn(ALARM_LOW, "%d min of battery left" % (left // 60))

    def _calm(self):
        # Mains came, or a new cell: the battery's alarms no longer hold.
        if self.low:
            self.low = False
            self._sink.clear(ALARM_LOW)
        self.depleted = False

    def time_left_s(self):
        """Seconds until the depleted stop at the present drain; None while unknown or on
        mains."""
        g = self.gauge
        if self.mains or g.charge < 0 or self.ua <= 0:
            return None
        return max(0, g.charge - self.floor_uah()) * 36 // (self.ua // 100 or 1)

    def floor_uah(self):
        """The charge at which the pump stops: the reserve for the alarm state, or, if
        higher, the charge below which the cell under the motor's drain (with its learned
        resistance) falls under hold_mv."""
        g, cell = self.gauge, self.cell
        ocv = cell["hold_mv"] + max(self.ua, self.run_ua) * g.r_mohm // 1000000
        return max(self.reserve_uah, _interp(cell["curve"], ocv) * g.cap_mah)

    def status(self):
        """For pump.status(): the cell, its charge and time left, mains."""
        g = self.gauge
        return {
            "battery": self.cell["name"],
            "battery_mv": g.mv,
            "battery_pct": -1 if g.charge < 0 else g.permille() // 10,
            "battery_left_min": None if self.time_left_s() is None else self.time_left_s() // 60,
            "mains": bool(self.mains),
        }


# Buzzer duty while an alarm sounds, permille of the time a pulse sounds (pump/signals.py's
# IEC 60601-1-8 bursts: high 10 pulses of about 150 ms every 10 s, medium 3 of 200 ms every
# 15 s; approximate, for the energy model only).
_BUZZ_PM = (0, 0, 40, 150)


class PumpSink:
    """Supply's decisions carried out on a pump.api.Pump through its public API: SUPPLY
    records in its log, battery_low latched, the depleted stop (stop(), then the high alarm:
    the log gets the STOP with the steps delivered and the ALARM)."""

    def __init__(self, pump):
        self._pump = pump

    def record(self, what, b):
        self._pump.log.add(self._pump.now(), events.SUPPLY, what, b)

    def warn(self, kind, text):
        self._pump.raise_alarm(kind, text)

    def clear(self, kind):
        clear = getattr(self._pump, "clear_alarm", None)  # pump.api after issue 21's hook
        if clear is not None:
            clear(kind)

    def deplete(self, kind, text):
        halt = getattr(self._pump, "halt_for", None)  # pump.api: from inside the service step
        if halt is not None:
            halt(kind, text)
            return
        self._pump.stop()
        self._pump.raise_alarm(kind, text)


class PumpPower:
    """A Supply serviced from a pump: what the pump does now, for the energy model, read from
    its public state. service() after each of the pump's service steps."""

    def __init__(self, pump, sense):
        self.pump = pump
        self.state = energy.State()
        self.supply = Supply(sense.battery, sense, PumpSink(pump), pump.now())
        self._last = pump.now() - PERIOD_US  # the first service reads at once

    def service(self):
        p, s = self.pump, self.state
        now = p.now()
        if 0 <= ticks_diff(now, self._last) < PERIOD_US:
            return  # the ADC reads and the gauge at most every PERIOD_US, whatever the step's
        self._last = now
        s.motor = p.state == ctl.RUNNING  # EN stays on while running (drivers/pio_stepper.py)
        sounding = p.sounding()
        s.buzzer_pm = _BUZZ_PM[sounding] if sounding < 4 else 0
        try:
            self.supply.service(now, s)
        except MemoryError:
            # The gauge's sums pass 31 bits (long ints on the rp2): with the heap locked or
            # full, read again at the next service step rather than fault the pump.
            self._last = ticks_add(now, -PERIOD_US)

    def status(self):
        return self.supply.status()
