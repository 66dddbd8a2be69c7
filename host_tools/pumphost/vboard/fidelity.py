"""Does the virtual Pico tell the truth? MicroPython's own test suite against it (make fidelity).

Runs `tests/run-tests.py` from the pinned MicroPython tree (.cache/micropython/tree, fetched
by the build, never copied here) against the virtual Pico running the fidelity image
(MicroPython 1.25 as released, REPL on UART1: host_tools/vboard/fidelity/), through a small
adapter of ours around the tree's `tools/pyboard.py`:

- the port is a `socket://` URL, opened with pyserial's `serial_for_url`, with a read timeout;
- each test may take TEST_TIMEOUT s of wall time (pyboard.py allows 10 s);
- a board that stops answering (a wedge) is replaced by a fresh chip on the same flash
  (the bridge's `reset`), and the run goes on with the next test;
- micropython-lib's `unittest` is put on the board's flash (/lib) from a pinned source
  (PyPI's micropython-unittest 0.4, with our summary printer over it).

It prints pass, fail and skip per directory, then compares the failures with the checked-in
list (host_tools/vboard/fidelity/expected.toml, each with its reason). A failure not in the
list, or a listed one that now passes, fails the run (exit status 1).

    python -m pumphost.vboard.fidelity            # the full suite (about 25 min on 2 cores)
    python -m pumphost.vboard.fidelity --quick    # the subset in `make test` (under 5 min)
    python -m pumphost.vboard.fidelity extmod/machine_uart_tx.py ...   # given tests only
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import re
import runpy
import sys
import tarfile
import time
import tomllib
import urllib.request
from collections import Counter
from pathlib import Path

import serial

from pumphost.paths import CACHE, REPO
from pumphost.vboard.virtual import VBoardError, VirtualBoard

TREE = CACHE / "micropython" / "tree"
TESTS = TREE / "tests"
IMAGE = CACHE / "images" / "fidelity" / "firmware.bin"
EXPECTED = REPO / "host_tools" / "vboard" / "fidelity" / "expected.toml"
UNITTEST_BOARD = REPO / "host_tools" / "vboard" / "fidelity" / "unittest_board.py"
WORK = CACHE / "fidelity"

TEST_TIMEOUT = 240.0  # wall s per test: CPU-bound tests run at about a tenth of real speed
READ_TIMEOUT = 2.0  # wall s per serial read: a silent board does not block the run
BOOT_TIMEOUT = 60.0  # wall s for a fresh chip to reach its prompt

# The suite's directories for an rp2 board (run-tests.py's own list for the platform, with
# inlineasm/thumb and extmod_hardware). `thread` is not run: core 1 is not emulated, so
# every test there would hang until its timeout (listed in expected.toml as not run).
DIRS = (
    "basics",
    "micropython",
    "misc",
    "extmod",
    "extmod_hardware",
    "float",
    "stress",
    "inlineasm/thumb",
    "ports/rp2",
)

# The subset in `make test` (about a minute): the tests of the faults fixed in the bridge,
# the peripherals a pump relies on, unittest on the board, one listed failure (so the
# comparison with expected.toml runs too) and a sample of the rest.
QUICK = (
    "extmod_hardware/machine_uart_irq_rxidle.py",
    "extmod/random_basic.py",
    "extmod/random_seed_default.py",
    "extmod/machine_uart_tx.py",
    "extmod/machine_uart_irq_txidle.py",
    "extmod/machine_soft_timer.py",
    "extmod/machine_disable_irq.py",
    "extmod/machine_pulse.py",
    "extmod/machine1.py",
    "extmod/time_ms_us.py",
    "extmod/machine_spi_rate.py",
    "ports/rp2/rp2_dma.py",
    "ports/rp2/rp2_uart.py",
    "ports/rp2/rp2_machine_idle.py",
    "micropython/heapalloc.py",
    "micropython/schedule.py",
    "basics/int_big_mul.py",
    "basics/int_big_div.py",
    "basics/gen_yield_from.py",
    "basics/bytearray1.py",
    "basics/class_super.py",
    "basics/dict1.py",
    "basics/exceptpoly.py",
    "basics/string_format.py",
    "extmod/asyncio_basic.py",
    "extmod/framebuf1.py",
    "extmod/hashlib_sha256.py",
    "extmod/json_dumps.py",
    "extmod/re1.py",
    "extmod/vfs_lfs.py",
    "micropython/native_misc.py",
    "micropython/viper_misc.py",
    "float/math_fun.py",
    "stress/dict_create.py",
    "float/float1.py",
    "stress/recursion.py",
    "inlineasm/thumb/asmsum.py",
)

# micropython-lib's unittest is not in the Debian source tarball (lib/micropython-lib is
# empty). PyPI has micropython-unittest 0.4 (the micropython-lib module as published for
# upip): an sdist pip cannot install (no setup.py), so it is fetched as a file, pinned here.
UNITTEST_URL = (
    "https://files.pythonhosted.org/packages/45/3f/"
    "b9e333ed1f402f11bf83f730c72f3131dae203c9d0cb3d536ee022282544/"
    "micropython-unittest-0.4.tar.gz"
)
UNITTEST_SHA256 = "83b4a65c44b2f6382bc3dd8fbbe002b5679dbfc3744b99eaa59802e6fd14cf67"
UNITTEST_MEMBER = "micropython-unittest-0.4/unittest.py"

KINDS = ("emulator", "image", "rig", "rp2")
_RESULT = re.compile(r"^(pass|skip|FAIL)\s+(\S+)")


def unittest_source() -> bytes | None:
    """unittest.py from the pinned sdist (cached in .cache/fidelity), or None if unreachable."""
    WORK.mkdir(parents=True, exist_ok=True)
    tarball = WORK / "micropython-unittest-0.4.tar.gz"
    if not tarball.exists():
        try:
            with urllib.request.urlopen(UNITTEST_URL, timeout=60) as r:
                data = r.read()
        except OSError as e:
            print(f"fidelity: cannot fetch micropython-unittest from PyPI: {e}")
            return None
        if hashlib.sha256(data).hexdigest() != UNITTEST_SHA256:
            print("fidelity: micropython-unittest 0.4 does not match its pinned sha256")
            return None
        tarball.write_bytes(data)
    if hashlib.sha256(tarball.read_bytes()).hexdigest() != UNITTEST_SHA256:
        tarball.unlink()
        return unittest_source()
    with tarfile.open(tarball) as tf:
        member = tf.extractfile(UNITTEST_MEMBER)
        assert member is not None
        return member.read()


def load_expected(path: Path = EXPECTED) -> tuple[dict[str, dict], dict[str, str]]:
    """(expected failures: test -> {kind, reason}, directories not run: dir -> reason)."""
    data = tomllib.loads(path.read_text())
    fails = data.get("fail", {})
    for test, entry in fails.items():
        if entry.get("kind") not in KINDS or not entry.get("reason"):
            kinds = ", ".join(KINDS)
            raise SystemExit(f"{path}: [fail.{test!r}] needs a kind ({kinds}) and a reason")
    return fails, {d: e["reason"] for d, e in data.get("not_run", {}).items()}


def _tests_needing_unittest() -> list[str]:
    found = []
    for d in DIRS:
        for f in sorted((TESTS / d).glob("*.py")):
            if re.search(r"^\s*import unittest", f.read_text(errors="replace"), re.MULTILINE):
                found.append(f"{d}/{f.name}")
    return found


# ---- the adapter around pyboard.py ---------------------------------------------------------


def _adapt_pyboard(board: VirtualBoard, log: list[str]) -> None:
    """Imports the tree's tools/pyboard.py and makes its Pyboard reach the virtual board."""
    sys.path.insert(0, str(TREE / "tools"))
    import pyboard  # the tree's own, found through the path above

    class VBoardPyboard(pyboard.Pyboard):
        def __init__(self, device: str, baudrate: int = 115200, *args, **kwargs) -> None:
            self.in_raw_repl = False
            self.use_raw_paste = True
            self.device = device
            self.baudrate = baudrate
            self.wedged = False
            self.serial = serial.serial_for_url(device, baudrate=baudrate, timeout=READ_TIMEOUT)

        def follow(self, timeout, data_consumer=None):
            try:
                return super().follow(max(timeout or 0, TEST_TIMEOUT), data_consumer)
            except pyboard.PyboardError:
                self.wedged = True
                raise

        def enter_raw_repl(self, soft_reset=True):
            if self.wedged:
                self.fresh_board("it did not finish a test in time")
            try:
                return super().enter_raw_repl(soft_reset)
            except pyboard.PyboardError:
                self.fresh_board("it did not enter the raw REPL")
                return super().enter_raw_repl(soft_reset)

        def fresh_board(self, why: str) -> None:
            """A fresh chip on the same flash (unittest stays), then its prompt."""
            log.append(why)
            print(f"fidelity: board wedged ({why}): a fresh chip on the same flash")
            self.wedged = False
            board.reset()
            self.serial.reset_input_buffer()
            deadline = time.monotonic() + BOOT_TIMEOUT
            seen = b""
            while b">>> " not in seen and time.monotonic() < deadline:
                self.serial.write(b"\r\x02")  # Ctrl-B: the friendly REPL prints its prompt
                seen += self.serial.read(4096)
            if b">>> " not in seen:
                raise pyboard.PyboardError("the fresh board did not reach its prompt")

    pyboard.Pyboard = VBoardPyboard


class _Tee(io.TextIOBase):
    """Prints run-tests.py's lines as they come and keeps them for the summary."""

    def __init__(self, out: io.TextIOBase) -> None:
        self.out = out
        self.text: list[str] = []

    def write(self, s: str) -> int:
        self.text.append(s)
        self.out.write(s)
        self.out.flush()
        return len(s)


def _install_unittest(board: VirtualBoard, source: bytes) -> None:
    """The pinned module as /lib/unittest_04.py, and our unittest.py over it (the summary
    format run-tests.py reads: see host_tools/vboard/fidelity/unittest_board.py)."""
    from mpremote.transport_serial import SerialTransport

    t = SerialTransport(board.url, baudrate=115200)
    try:
        t.enter_raw_repl(soft_reset=False)
        t.exec("import os\ntry:\n os.mkdir('/lib')\nexcept OSError:\n pass")
        t.fs_writefile("/lib/unittest_04.py", source)
        t.fs_writefile("/lib/unittest.py", UNITTEST_BOARD.read_bytes())
        t.exit_raw_repl()
    finally:
        t.close()


def run_suite(args: list[str], unittest: bytes | None) -> tuple[list[tuple[str, str]], float]:
    """Runs run-tests.py with `args` against a fresh virtual board; returns (result, test)
    pairs in order and the wall time."""
    board = VirtualBoard(
        IMAGE,
        fresh=True,
        port=0,
        extra_args=("--uart", "1", "--pace", "max"),
        devices=None,
        proto_port=-1,  # UART1 is this image's REPL
    )
    wedges: list[str] = []
    started = time.monotonic()
    with board:
        board.run_ns(1_000_000_000)
        if unittest is not None:
            _install_unittest(board, unittest)
        _adapt_pyboard(board, wedges)
        results = WORK / "results"
        results.mkdir(parents=True, exist_ok=True)
        argv = ["run-tests.py", "-t", board.url, "-r", str(results), *args]
        tee = _Tee(sys.stdout)
        old_argv, old_cwd = sys.argv, os.getcwd()
        sys.argv = argv
        os.chdir(TESTS)
        try:
            with contextlib.redirect_stdout(tee):
                runpy.run_path(str(TESTS / "run-tests.py"), run_name="__main__")
        except SystemExit:
            pass  # run-tests.py exits 1 when a test failed: judged below against the list
        finally:
            sys.argv = old_argv
            os.chdir(old_cwd)
    out = []
    for line in "".join(tee.text).splitlines():
        m = _RESULT.match(line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out, time.monotonic() - started


def summarize(
    results: list[tuple[str, str]], expected: dict[str, dict], not_run: dict[str, str]
) -> bool:
    """Prints pass/fail/skip per directory and the comparison; True when it matches."""
    per_dir: dict[str, Counter] = {}
    for what, test in results:
        per_dir.setdefault(os.path.dirname(test), Counter())[what] += 1
    total: Counter = Counter()
    for d in sorted(per_dir):
        c = per_dir[d]
        total.update(c)
        print(f"fidelity: {d:18s} pass {c['pass']:4d}  fail {c['FAIL']:3d}  skip {c['skip']:3d}")
    print(
        f"fidelity: {'all':18s} pass {total['pass']:4d}  fail {total['FAIL']:3d}  "
        f"skip {total['skip']:3d}"
    )
    for d, why in not_run.items():
        print(f"fidelity: NOT RUN {d}/: {why}")
    failed = {t for what, t in results if what == "FAIL"}
    passed = {t for what, t in results if what == "pass"}
    new = sorted(failed - set(expected))
    fixed = sorted(passed & set(expected))
    seen = sorted(failed & set(expected))
    for t in seen:
        e = expected[t]
        print(f"fidelity: expected failure {t} ({e['kind']}): {e['reason']}")
    for t in new:
        print(f"fidelity: NEW FAILURE {t}: not in {EXPECTED.relative_to(REPO)}")
    for t in fixed:
        print(f"fidelity: NOW PASSES {t}: take it out of {EXPECTED.relative_to(REPO)}")
    ok = not new and not fixed
    verdict = "matches" if ok else "does NOT match"
    print(f"fidelity: the result {verdict} the list of expected failures")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="pumphost.vboard.fidelity", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--quick", action="store_true", help="the subset run by make test")
    ap.add_argument("tests", nargs="*", help="test files (relative to tests/) instead")
    a = ap.parse_args(argv)
    for need, how in ((IMAGE, "host_tools/vboard/fidelity/build.sh"), (TESTS, "make build-deps")):
        if not need.exists():
            print(f"fidelity: {need} is missing: run {how}")
            return 2
    expected, not_run = load_expected()
    unittest = unittest_source()
    args: list[str] = []
    if unittest is None:
        needs = _tests_needing_unittest()
        print(
            "fidelity: SKIPPED LOUDLY: micropython-lib's unittest is not reachable, so these "
            f"tests are not run: {' '.join(needs)}"
        )
        for t in needs:
            args += ["-e", re.escape(t)]
    if a.tests:
        args += list(a.tests)
    elif a.quick:
        args += list(QUICK)
    else:
        args += ["-d", *DIRS]
        not_run = dict(not_run)
    if a.tests or a.quick:
        not_run = {}
    try:
        results, wall = run_suite(args, unittest)
    except VBoardError as e:
        print(f"fidelity: the virtual board did not start: {e}")
        return 2
    print(f"fidelity: {len(results)} tests in {wall:.0f} s of wall time")
    return 0 if summarize(results, expected, not_run) else 1


if __name__ == "__main__":
    sys.exit(main())
