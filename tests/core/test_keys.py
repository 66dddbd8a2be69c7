# The bedside keys' logic (pump/keys.py): debounce, long presses, chords, stuck keys.
import sys

from pump import keys as K
from pump.ticks import ticks_add

MS_WRAP = (1 << 30) - 2000  # 2 s before ticks_ms wraps


class Run:
    """Samples a Keys every `every` ms from just before the tick wrap; collects events."""

    def __init__(self, every=5):
        self.t = MS_WRAP
        self.every = every
        self.k = K.Keys(self.t)
        self.events = []

    def hold(self, mask, ms):
        for _ in range(ms // self.every):
            self.t = ticks_add(self.t, self.every)
            self.k.sample(mask, self.t)
            self._drain()

    def chatter(self, mask, ms, step=1):
        # The contact bounces: pressed and open in turn every `step` ms for `ms` ms.
        for i in range(ms // step):
            self.t = ticks_add(self.t, step)
            self.k.sample(mask if i % 2 else 0, self.t)
            self._drain()

    def _drain(self):
        while True:
            e = self.k.get()
            if e < 0:
                return
            self.events.append((K.EVENT_NAMES[e >> 3], K.NAMES[e & 7]))

    def names(self, *kinds):
        return [e for e in self.events if e[0] in kinds]


def test_a_press_with_5_ms_of_chatter_on_both_edges_is_one_press():
    for every in (1, 5, 10):
        r = Run(every)
        r.hold(0, 50)
        r.chatter(1 << K.OK, 5)  # the contact bounces for 5 ms on the way down
        r.hold(1 << K.OK, 200)
        r.chatter(1 << K.OK, 5)  # and on the way up
        r.hold(0, 100)
        assert r.events == [("press", "ok"), ("click", "ok"), ("release", "ok")], (every, r.events)


def test_chatter_sampled_at_5_ms_never_doubles_a_press():
    # Sampled every 5 ms while it bounces at 5 ms: the sampler sees it flip on every sample.
    r = Run(5)
    for i in range(4):
        r.hold(1 << K.UP if i % 2 == 0 else 0, 5)
    r.hold(1 << K.UP, 100)
    for i in range(4):
        r.hold(0 if i % 2 == 0 else 1 << K.UP, 5)
    r.hold(0, 100)
    assert r.names("press", "click") == [("press", "up"), ("click", "up")], r.events


def test_a_glitch_shorter_than_the_debounce_is_no_press():
    r = Run(1)
    r.hold(1 << K.STOP, K.DEBOUNCE_MS - 2)
    r.hold(0, 100)
    assert r.events == []


def test_held_keys_give_long_then_hold_once_and_no_click():
    r = Run(10)
    r.hold(1 << K.INFO, K.HOLD_MS + 2000)
    assert r.events == [("press", "info"), ("long", "info"), ("hold", "info")]
    assert r.k.held_ms(K.INFO, r.t) >= K.HOLD_MS + 1900
    r.hold(0, 50)
    assert r.events[-1] == ("release", "info") and ("click", "info") not in r.events
    assert r.k.held_ms(K.INFO, r.t) == 0


def test_up_and_down_repeat_while_held():
    r = Run(10)
    r.hold(1 << K.DOWN, 20 + K.REPEAT_DELAY_MS + 10 * K.REPEAT_MS)
    reps = r.names("repeat")
    assert 10 <= len(reps) <= 11 and set(reps) == {("repeat", "down")}, r.events
    r = Run(10)
    r.hold(1 << K.OK, 2000)
    assert not r.names("repeat")  # only up and down repeat


def test_two_keys_at_once_do_nothing():
    r = Run(5)
    r.hold(1 << K.OK, 100)
    r.hold(1 << K.OK | 1 << K.UP, 2000)  # a hand across the keypad
    r.hold(1 << K.UP, 100)
    r.hold(0, 100)
    assert r.names("press", "click", "long", "hold", "repeat") == [("press", "ok")], r.events
    assert len(r.names("release")) == 2
    r.hold(1 << K.UP, 100)  # the next press alone works again
    r.hold(0, 100)
    assert r.names("click")[-1:] == [("click", "up")]


def test_two_keys_pressed_in_the_same_sample_do_nothing():
    r = Run(5)
    r.hold(1 << K.OK | 1 << K.BOLUS, 200)
    r.hold(0, 100)
    assert not r.names("press", "click", "long"), r.events


def test_stop_still_works_with_another_key_held():
    r = Run(5)
    r.hold(1 << K.UP, 100)
    r.hold(1 << K.UP | 1 << K.STOP, K.LONG_MS + 100)
    assert ("long", "stop") in r.events and ("press", "stop") in r.events
    assert not r.names("repeat")  # up went void with the chord
    r = Run(5)
    r.hold(1 << K.STOP, 100)
    r.hold(1 << K.STOP | 1 << K.DOWN, K.LONG_MS)
    assert ("long", "stop") in r.events and ("press", "down") not in r.events


def test_a_stuck_key_is_reported_once_and_blocks_nothing():
    r = Run(10)
    r.hold(1 << K.DOWN, K.STUCK_MS + 500)
    assert r.names("stuck") == [("stuck", "down")]
    n = len(r.events)
    r.hold(1 << K.DOWN, 5000)
    assert len(r.events) == n  # no more repeats from a stuck key
    r.hold(1 << K.DOWN | 1 << K.OK, 100)
    r.hold(1 << K.DOWN, 100)
    assert r.names("press", "click")[-2:] == [("press", "ok"), ("click", "ok")], r.events


def test_idle_only_when_no_key_is_down_and_no_event_waits():
    r = Run(10)
    assert r.k.idle()
    r.k.sample(1 << K.OK, ticks_add(r.t, 1))  # a level seen, not yet debounced
    assert not r.k.idle()
    r.hold(1 << K.OK, 100)
    r.hold(0, 10)  # up, but still bouncing as far as the debounce knows
    assert not r.k.idle()
    r.hold(0, 50)
    assert r.k.idle()  # (Run drains the events as they come)


def test_a_full_ring_drops_new_events_and_counts_them():
    k = K.Keys(0)
    t = 0
    for _ in range(40):  # 40 clicks, never read: 80 events for a ring of 32
        for m in (1 << K.OK, 1 << K.OK, 0, 0):
            t += 25
            k.sample(m, t)
    assert k.pending() == 32 and k.dropped > 0
    assert k.get() == K.PRESS << 3 | K.OK


def test_sampling_does_not_allocate():
    if sys.implementation.name != "micropython":
        return  # CPython cannot lock its heap
    import micropython

    k = K.Keys(MS_WRAP)
    t = MS_WRAP
    masks = (0, 1 << K.UP, 0, 1 << K.UP, 1 << K.UP | 1 << K.STOP, 1 << K.STOP, 0)
    micropython.heap_lock()
    try:
        n = 0
        for m in masks:
            for _ in range(700):  # 3.5 s each: long, hold, repeat, chords
                t = ticks_add(t, 5)
                k.sample(m, t)
                while k.get() >= 0:
                    n += 1
    finally:
        micropython.heap_unlock()
    assert n > 10
