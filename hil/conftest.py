"""HIL suite: the same tests against the virtual Pico (default) or a real board.

pytest hil                                   # virtual: our vpico image on rp2040js
pytest hil --target serial --port /dev/ttyACM0 --board pico
pytest hil --target serial --port socket://127.0.0.1:2217 --rig virtual   # `pumpctl vboard start`

--proto: the protocol's UART1 (a USB-serial adapter on GP8/GP9 on a bench, or a virtual
board's protocol URL); the virtual target has its own. Without it the protocol tests skip.

--rig: `auto` (default: the spawned board's own control channel on --target virtual, none on
--target serial), `none`, `virtual` (the control channel of a board started by hand: the
port after --port's, or `virtual=HOST:PORT`), or a bench fixture's serial port or socket URL
(hil/fixture_rig.py; the bench: hil/fixture/BENCH.md; two wired virtual Picos:
`pumpctl vboard pair`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from dut import DUT, DUTSilent, DUTUnreachable
from fixture_rig import FixtureRig, FixtureUnreachable
from rig import VirtualRig

from pumphost import boards
from pumphost.paths import CACHE
from pumphost.vboard.virtual import VBoardError, VirtualBoard


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("hil")
    g.addoption("--target", choices=("virtual", "serial"), default="virtual")
    g.addoption("--port", default=None, help="serial device or socket:// URL of a real board")
    g.addoption("--board", default=None, help="board definition (default: vpico / pico)")
    g.addoption(
        "--rig",
        default="auto",
        help="auto | none | virtual[=HOST:PORT] | a bench fixture's serial port or socket URL",
    )
    g.addoption("--proto", default=None, help="the protocol UART's serial port or socket URL")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "rig(*caps): needs rig capabilities (pins, time, power, plant, supply); skipped without",
    )


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--target"))


@pytest.fixture(scope="session")
def board_def(request: pytest.FixtureRequest, target: str) -> boards.Board:
    name = request.config.getoption("--board") or ("vpico" if target == "virtual" else "pico")
    return boards.load(name)


@pytest.fixture(scope="session")
def vboard(target: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VirtualBoard | None]:
    if target != "virtual":
        yield None
        return
    image = CACHE / "images" / "vpico" / "firmware.bin"
    if not image.exists():
        pytest.fail(f"no virtual board image at {image}: run `make firmware BOARD=vpico`")
    flash = tmp_path_factory.mktemp("vboard") / "flash.bin"
    vb = VirtualBoard(image, flash=flash, fresh=True, port=0)
    try:
        vb.start()
    except VBoardError as e:
        pytest.fail(f"virtual board did not start: {e}")
    vb.run_ns(1_000_000_000)  # boot, _boot.py (the pump), REPL
    yield vb
    vb.close()


@pytest.fixture(scope="session")
def dut(request: pytest.FixtureRequest, target: str, vboard: VirtualBoard | None) -> DUT:
    """The board's REPL, probed once: pytest caches a skip or failure here for the session, so
    a board that is not there costs one quick probe, not a timeout per test."""
    if target == "virtual":
        assert vboard is not None
        board = DUT(vboard.url)
        try:
            board.probe()
        except (DUTUnreachable, DUTSilent) as e:
            pytest.fail(f"the virtual board's REPL does not answer: {e}", pytrace=False)
        return board
    port = request.config.getoption("--port") or "/dev/ttyACM0"
    if not port.startswith("socket://") and not os.path.exists(port):
        pytest.skip(
            f"SKIPPED LOUDLY: no serial board at {port} on this machine; "
            "plug a Pico in and pass --port, or use --target virtual"
        )
    board = DUT(port)
    try:
        board.probe()
    except DUTUnreachable as e:
        pytest.skip(
            f"SKIPPED LOUDLY: {e}; start the board (`pumpctl vboard start`) or pass its --port, "
            "or use --target virtual"
        )
    except DUTSilent as e:  # something is there, but not a MicroPython REPL that answers
        pytest.fail(str(e), pytrace=False)
    return board


@pytest.fixture(scope="session")
def proto_url(request: pytest.FixtureRequest, vboard: VirtualBoard | None) -> str | None:
    """Where the pump protocol (UART1) answers: --proto, else the virtual board's own."""
    given = request.config.getoption("--proto")
    if given:
        return str(given)
    return vboard.proto_url if vboard is not None else None


def _control_address(choice: str, port: str | None) -> tuple[str, int]:
    """Where a hand-started virtual board listens for control: `virtual=HOST:PORT`, or the
    port after its REPL's (what `pumpctl vboard start` opens)."""
    if "=" in choice:
        host, _, num = choice.partition("=")[2].rpartition(":")
        return host or "127.0.0.1", int(num)
    if not port or not port.startswith("socket://"):
        raise pytest.UsageError("--rig virtual needs --port socket://HOST:PORT or =HOST:PORT")
    host, _, num = port.removeprefix("socket://").rpartition(":")
    return host, int(num) + 1


@pytest.fixture(scope="session")
def rig(
    request: pytest.FixtureRequest, vboard: VirtualBoard | None, board_def: boards.Board
) -> Iterator[VirtualRig | FixtureRig | None]:
    choice = str(request.config.getoption("--rig"))
    if choice == "none":
        yield None
    elif choice == "auto" or (choice == "virtual" and vboard is not None):
        yield VirtualRig(vboard, board_def.pins) if vboard is not None else None
    elif choice.startswith("virtual"):
        host, port = _control_address(choice, request.config.getoption("--port"))
        try:
            attached = VirtualBoard.attach(host, port)
        except VBoardError as e:
            pytest.fail(f"--rig {choice}: {e}", pytrace=False)
        yield VirtualRig(attached, board_def.pins)
        attached.close()
    else:
        try:
            bench = FixtureRig(choice, board_def.pins, board_def.syringe_seated)
        except FixtureUnreachable as e:
            pytest.skip(
                f"SKIPPED LOUDLY: --rig {choice}: no bench fixture answered: {e}; "
                "use --rig virtual with a virtual board, or --rig none"
            )
        yield bench
        bench.close()


@pytest.fixture(autouse=True)
def _rig_capabilities(request: pytest.FixtureRequest) -> None:
    for mark in request.node.iter_markers("rig"):
        rig = request.getfixturevalue("rig")
        have = rig.capabilities if rig is not None else frozenset()
        missing = [c for c in mark.args if c not in have]
        if missing:
            pytest.skip(
                f"SKIPPED LOUDLY: this rig cannot provide {', '.join(missing)} "
                "(the serial target has no logic analyser or power relay wired in)"
            )


STOP_IF_MOVING = "if pump.status()['state'] in ('running', 'paused'):\n    pump.stop()\n"


@pytest.fixture
def pump(dut: DUT) -> Iterator[DUT]:
    """The board with a fresh, idle pump and a full 10 mL syringe loaded. Every test that
    starts the pump uses this fixture: it stops the pump again after the test, passed or
    failed, so a failed test never leaves it running into the next test or the next run."""
    dut.exec(STOP_IF_MOVING + "pump.load('bd-plastipak-10ml', '10')")
    yield dut
    dut.exec(STOP_IF_MOVING)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"hil target: {config.getoption('--target')}"]


_FIGURES: list[str] = []


@pytest.fixture(scope="session")
def report() -> list[str]:
    """Figures a test measured; printed at the end of the run."""
    return _FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("HIL figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
