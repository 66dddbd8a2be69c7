"""The emulator records what the board's alarm buzzer and LED would play (pump.signals through
the same pump.app.build): a timeline of priorities, which expands to the board's pulses."""

from pathlib import Path

from pump import signals
from pumphost.sim import scenario
from pumphost.sim.emulator import Emulator

FAULTS = Path(__file__).resolve().parents[1] / "host_tools" / "scenarios" / "faults"


def test_the_emulator_records_the_high_alarm_it_would_sound() -> None:
    res = Emulator(scenario.load(FAULTS / "syringe-removed.toml")).run()
    assert res.alarm_kinds == ["syringe_removed"]
    raised = res.alarms[0]["raised_s"]
    assert res.signal[0] == (0.0, 0, 0)  # quiet and dark from boot
    t, sound, light = res.signal[-1]
    assert (sound, light) == (signals.HIGH, signals.HIGH)
    assert abs(t - raised) < 0.5, (t, raised)  # at the alarm, not later
    # the pulses a board would play from there to the end of the run (30 min: 219 bursts)
    timeline = [(round(s * 1e6), a, b) for s, a, b in res.signal]
    pulses = signals.expand(timeline, round(res.duration_s * 1e6))
    first = [(a - pulses[0][0], w) for a, w in pulses[:10]]
    assert first == [(s * 1000, w * 1000) for s, w in signals.pulses(signals.HIGH)]
    assert pulses[0][0] == round(t * 1e6)
    bursts = len(pulses) // 10
    assert bursts == -(-round((res.duration_s - t) * 1000) // signals.PERIOD_MS[signals.HIGH])
