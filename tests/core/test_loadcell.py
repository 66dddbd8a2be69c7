from harness import raises
from pump import loadcell as lc
from pump.ticks import ticks_add

START = (1 << 30) - 300000  # 0.3 s before the tick counter wraps


class Bench:
    """A fake HX711 FIFO, clock and syringe switch."""

    def __init__(self):
        self.fifo = []
        self.t = START
        self.switch = 0

    def read(self):
        return self.fifo.pop(0) if self.fifo else -1

    def clock(self):
        return self.t

    def wait(self, us):
        self.t = ticks_add(self.t, us)

    def level(self):
        return self.switch


def _cell(offset=1000, scale=40000):
    b = Bench()
    return b, lc.LoadCell(b.read, b.clock, b.level, 0, offset, scale)


def test_counts_to_mn_with_offset_and_scale():
    _, c = _cell()
    assert c.mn(1000) == 0
    assert c.mn(1000 + 40000) == 1000
    assert c.mn(1000 + 20) == 0  # half a mN: rounded down
    assert c.mn(1000 + 40) == 1
    assert c.mn(1000 - 40) == -1
    assert c.mn(1000 - 41) == -2  # floor, as the detector's other integers
    # the extremes of the 24-bit range stay exact: (counts - offset) * 1000 would pass 2**30
    assert c.mn(0x7FFFFE) == (0x7FFFFE - 1000) * 1000 // 40000
    assert c.mn(-0x7FFFFF) == (-0x7FFFFF - 1000) * 1000 // 40000


def test_take_hands_over_each_sample_once_signed():
    b, c = _cell()
    b.wait(1100000)  # polling starts later than construction: nothing stale waits
    assert c.take() is None and c.fault == lc.OK
    b.fifo = [1000 + 80000, 0xFFFFFF]  # +2 N, then -1 count
    b.wait(100000)
    assert c.take() == 2000
    assert c.take() == (-1 - 1000) * 1000 // 40000
    assert c.take() is None
    assert c.counts == -1 and c.samples == 2 and c.fault == lc.OK


def test_no_data_for_five_periods_is_an_open_cell_and_data_clears_it():
    b, c = _cell()
    c.take()
    for _ in range(5):
        b.wait(100000)
        assert c.take() is None and c.fault == lc.OK  # 500 ms: not yet
    b.wait(20000)
    assert c.take() is None and c.fault == lc.NO_DATA
    b.fifo = [5000]
    b.wait(20000)
    assert c.take() == 100 and c.fault == lc.OK


def test_saturated_counts_are_a_fault_not_a_force():
    for raw in (0x7FFFFF, 0x800000):
        b, c = _cell()
        c.take()
        b.fifo = [raw]
        assert c.take() is None and c.fault == lc.SATURATED
        b.fifo = [1000]
        assert c.take() == 0 and c.fault == lc.OK


def test_a_pause_in_polling_drops_stale_samples_and_restarts_the_wait():
    b, c = _cell()
    c.take()
    b.fifo = [1000, 1000, 1000]  # samples from while the pump stood still
    b.wait(10000000)  # 10 s without take(): not a fault, and the old samples are dropped
    assert c.take() is None and c.fault == lc.OK and b.fifo == []
    b.wait(400000)
    assert c.take() is None and c.fault == lc.OK
    b.wait(200000)
    assert c.take() is None and c.fault == lc.NO_DATA
    b.wait(10000000)  # the pump stopped on that fault; started again, the cell gets its time
    assert c.take() is None and c.fault == lc.OK


def test_the_switch_level_that_means_seated():
    b, c = _cell()
    assert c.present()
    b.switch = 1
    assert not c.present()
    c2 = lc.LoadCell(b.read, b.clock, b.level, 1)
    assert c2.present()


def test_calibration_is_checked_and_round_trips_through_json():
    assert lc.parse_calibration('{"offset": -8312, "scale": 43770}') == (-8312, 43770)
    text = lc.calibration_json(12, 5000)
    assert lc.parse_calibration(text) == (12, 5000)
    for bad in ("", "[]", '{"offset": 1}', '{"offset": 1.5, "scale": 43770}',
                '{"offset": 0, "scale": 10}', '{"offset": 0, "scale": 2000000}',
                '{"offset": 9000000, "scale": 43770}'):  # fmt: skip
        raises(ValueError, lc.parse_calibration, bad)
    _, c = _cell()
    raises(ValueError, c.calibrate, 0, 0)
    assert c.scale == 40000  # a refused calibration changes nothing


def test_calibration_file_defaults_when_absent():
    off, scale, stored = lc.load_calibration("/nonexistent-dir/calib.json")
    assert (off, scale, stored) == (lc.DEFAULT_OFFSET, lc.DEFAULT_SCALE, False)


def test_with_waiting_read_is_called_only_when_a_sample_waits():
    # The board passes its state machine's rx_fifo and get: get() would block on an empty
    # FIFO, so it must never be called then.
    b = Bench()

    def get():
        assert b.fifo, "read() called with nothing waiting"
        return b.fifo.pop(0)

    c = lc.LoadCell(get, b.clock, b.level, 0, 1000, 40000, waiting=lambda: len(b.fifo))
    b.wait(1100000)
    assert c.take() is None and c.fault == lc.OK
    b.fifo = [1000 + 80000, 0x7FFFFF, 1000]
    b.wait(100000)
    assert c.take() == 2000
    assert c.take() is None and c.fault == lc.SATURATED
    assert c.take() == 0 and c.fault == lc.OK
    assert c.take() is None and c.samples == 2
    b.fifo = [1000, 1000]
    b.wait(2000000)  # a pause: what waits is stale and dropped without a blocking read
    assert c.take() is None and b.fifo == [] and c.fault == lc.OK


def test_the_slowest_service_period_keeps_every_sample():
    # pump.api.SERVICE_CALM_MS (500 ms), once held off by a command (boardapp runs the step
    # again 10 ms later): still one run of polling, nothing dropped as stale, no fault.
    b, c = _cell()
    c.take()
    for gap in (500000, 510000, 500000, 990000):
        b.fifo = [1000 + 40 * i for i in range(5)]
        b.wait(gap)
        got = []
        while True:
            f = c.take()
            if f is None:
                break
            got.append(f)
        assert got == [0, 1, 2, 3, 4] and c.fault == lc.OK, (gap, got)
    # The data stops: an open cell within 5 sample periods and one service period.
    b.wait(500000)
    assert c.take() is None and c.fault == lc.OK  # 500 ms since the last sample: not yet
    b.wait(500000)
    assert c.take() is None and c.fault == lc.NO_DATA
