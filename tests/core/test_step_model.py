# The step executor model (firmware/simhw/stepper.py) that the emulator and these tests run
# the pump on: the PIO driver's start latency and accounting.
from pump.ticks import ticks_add, ticks_diff
from simhw.stepper import START_LATENCY_US, SimClock, StepExecutor

START = (1 << 30) - 1000  # the tick counter wraps during the test


def _running(count=3, interval=1000):
    clock = SimClock(START)
    st = StepExecutor(clock)
    st.queue(count, interval)
    zero = st.start()
    return clock, st, zero


def test_steps_go_out_the_latency_after_the_plan():
    clock, st, zero = _running()
    assert zero == START
    st.advance(1000)  # the first step's planned time: the state machine is not there yet
    assert st.pulses == 0 and st.in_flight(clock.ticks()) == 0
    st.advance(START_LATENCY_US)
    assert st.pulses == 1 and st.in_flight(clock.ticks()) == 1 and st.steps_done == 0
    st.advance(2000)  # the batch's last step is out: it counts, at its plan's ticks
    assert st.steps_done == 3 and st.last_tick == ticks_add(START, 3000) and st.starved


def test_a_halt_is_dated_back_by_the_latency_never_before_the_last_step():
    clock, st, zero = _running()
    st.advance(2500)  # steps planned at 1000 and 2000 are out (at 1200 and 2200)
    stop = st.halt()
    assert st.steps_done == 2 and not st.running and not st.enabled
    assert ticks_diff(stop, zero) == 2500 - START_LATENCY_US
    clock, st, zero = _running()
    st.advance(START_LATENCY_US // 2)  # dated back, the stop would come before the start
    assert st.halt() == zero


def test_a_stall_makes_the_next_step_late_and_shifts_the_rest():
    clock, st, zero = _running()
    st.advance(1500)
    st.stall(2000)  # nothing steps from 1500 to 3500: the step due at 2200 goes out at 3500
    assert st.late and st.pulses == 1
    st.advance(0)
    assert st.pulses == 2
    st.advance(999)
    assert st.pulses == 2
    st.advance(1)
    assert st.pulses == 3


def test_a_reverse_start_draws_the_plunger_back():
    clock = SimClock(0)
    st = StepExecutor(clock, (1, 4))  # 0.25 um per microstep
    st.queue(8, 100)
    st.start(reverse=True)
    st.advance(100 * 8 + START_LATENCY_US)
    assert st.position == -8 and st.pulses == 8 and st.plunger_um() == -2
