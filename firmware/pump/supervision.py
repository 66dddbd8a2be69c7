# The checks the service step makes on a running pump. Each returns an alarm kind (pump.alarms)
# or None and acts on nothing: the pump stops the motor and raises the alarm. They read the
# executor and the sensors only; sensors() consumes the load cell's new samples.
from pump import alarms
from pump import occlusion as occ
from pump.ticks import ticks_diff


def executor(st, clock):
    """The step executor against its plan, while running: step_underrun if the ring ran
    dry (later steps would come late), step_late if it could not issue a step on time (on
    the Pico: the PIO stalled on an empty FIFO, e.g. while flash was written with
    interrupts off), step_early if it claims steps whose planned time has not come (its
    clock is fast); else None."""
    if st.starved:
        return alarms.STEP_UNDERRUN
    if st.late:
        return alarms.STEP_LATE
    if ticks_diff(st.last_tick, clock()) > 0:
        return alarms.STEP_EARLY
    return None


def near_steps(c, minutes):
    """The steps `minutes` of delivery take at the controller's rate (exact, rounded up):
    where near-empty warns."""
    num, den = c.rate
    m = minutes * 60 * num * c.vol[1]
    d = 3600 * den * c.vol[0]
    return (m + d - 1) // d


def sensors(s, det, motion):
    """The syringe switch and the load cell's new samples, each fed to the occlusion
    detector `det` at the plunger's position to the step (motion.issued()): None, or
    syringe_removed, sensor_fault (s.fault says why: 1 no data, 2 saturated) or occlusion
    (det.found says which test)."""
    if not s.present():
        return alarms.SYRINGE_REMOVED
    while True:
        force = s.take()
        if s.fault:
            return alarms.SENSOR_FAULT
        if force is None:
            return None
        if det.feed(force, motion.issued()):
            return alarms.OCCLUSION


def bottomed(c, fill_nl):
    """After a force rise: True if under a tenth of the fill is left, so the stopper has
    reached the end of the barrel (reservoir_empty, not an occlusion)."""
    left_nl = (c.capacity - c.delivered) * c.vol[0] // c.vol[1]
    return left_nl * 10 < fill_nl


def text(kind, s, det):
    """What the alarm `kind` that sensors() returned says."""
    if kind == alarms.SYRINGE_REMOVED:
        return "syringe removed while running"
    if kind == alarms.SENSOR_FAULT:
        return "no data from the load cell" if s.fault == 1 else "load cell saturated"
    what = "rate of rise" if det.found == occ.OCCLUSION else "pressure ceiling"
    return "occlusion (%s): force up %d mN; clear the line, acknowledge, resume" % (
        what,
        det.excess_mn,
    )
