"""`pumpctl vboard start|stop|screen|pair`: the virtual Pico from the command line."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from pumphost import screen
from pumphost.fixture import client as fixture
from pumphost.vboard.pair import FIXTURE_IMAGE, VirtualPair
from pumphost.vboard.virtual import (
    DEFAULT_FLASH,
    DEFAULT_IMAGE,
    DEFAULT_PORT,
    RUN_DIR,
    NodeBridge,
    VBoardError,
    VirtualBoard,
)

_F = TypeVar("_F", bound=Callable[..., Any])


def _fail(msg: str) -> None:
    click.echo(f"vboard: {msg}", err=True)
    sys.exit(2)


def _pid_file(port: int) -> Path:
    return RUN_DIR / f"vboard-{port}.pid"


def start_in_foreground(
    bridge: NodeBridge, errors: tuple[type[Exception], ...] = (VBoardError,)
) -> threading.Event:
    """Starts the bridge for a command that runs until Ctrl-C or SIGTERM (`vboard stop`),
    which set the event returned; one `vboard:` line and exit status 2 if it cannot start."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        bridge.start()
    except errors as err:
        _fail(str(err))
    return stop


def wait_in_foreground(bridge: NodeBridge, stop: threading.Event) -> None:
    """Returns once stop is set; exit status 2 if the bridge ends first."""
    while not stop.wait(0.2):
        if not bridge.alive:
            _fail(f"{bridge.what} stopped: {bridge.last_error()}")


def path_option(flag: str, default: Path, help: str | None = None) -> Callable[[_F], _F]:
    """A file option with its default shown in --help."""
    return click.option(
        flag, type=click.Path(path_type=Path), default=default, show_default=True, help=help
    )


@click.group()
def vboard() -> None:
    """Virtual Pico (rp2040js): the firmware image with its REPL on a TCP port."""


@vboard.command()
@click.option("--fresh", is_flag=True, help="Start from erased flash with the image written in.")
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True, help="REPL TCP port.")
@path_option("--image", DEFAULT_IMAGE, "Firmware .bin (written at 0x10000000).")
@path_option("--flash", DEFAULT_FLASH, "Saved 2 MB flash, loaded at start and saved at stop.")
def start(fresh: bool, port: int, image: Path, flash: Path) -> None:
    """Run a virtual board in the foreground until Ctrl-C (or `vboard stop`)."""
    if not image.exists():
        _fail(f"firmware image not found: {image}")
    pid_file = _pid_file(port)
    flash.parent.mkdir(parents=True, exist_ok=True)
    board = VirtualBoard(image, flash=flash, fresh=fresh, port=port, echo_output=True)
    stop = start_in_foreground(board)
    try:
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(f"{os.getpid()}\n")
        click.echo(board.url)
        click.echo(f"protocol (UART1): {board.proto_url} (pumpctl --port)", err=True)
        click.echo(
            f"control: {board.host}:{board.control_port} (the HIL suite's --rig virtual), "
            f"flash: {flash}; Ctrl-C stops",
            err=True,
        )
        wait_in_foreground(board, stop)
    finally:
        board.close()
        pid_file.unlink(missing_ok=True)


@vboard.command()
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True)
def stop(port: int) -> None:
    """Stop the virtual board started with `vboard start` on that port."""
    pid_file = _pid_file(port)
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        _fail(f"no virtual board running on port {port} (no pid file {pid_file})")
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        _fail(f"no virtual board running on port {port} (stale pid file removed)")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            click.echo(f"stopped the virtual board on port {port}")
            return
        time.sleep(0.1)
    _fail(f"process {pid} did not stop within 15 s")


@vboard.command(name="screen")
@click.option("--port", type=int, default=DEFAULT_PORT, show_default=True, help="REPL TCP port.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), default=None, help="PNG file to write."
)
@click.option("--scale", type=click.IntRange(1, 16), default=screen.SCALE, show_default=True)
@click.option("--text", "as_text", is_flag=True, help="Print the screen as '#' and '.' lines.")
def screen_cmd(port: int, host: str, output: Path | None, scale: int, as_text: bool) -> None:
    """What a running virtual board's OLED shows: a PNG (-o) and/or text (--text)."""
    if output is None and not as_text:
        _fail("give -o FILE.png and/or --text")
    try:
        board = VirtualBoard.attach(host, port + 1, port)
    except VBoardError as e:
        _fail(str(e))
        return
    try:
        buf = board.screen()
        status = board.display_status()
    except (VBoardError, OSError) as e:
        _fail(f"screen: {e}")
        return
    finally:
        board.close()
    if as_text:
        click.echo(screen.text(buf))
    if output is not None:
        try:
            screen.write_png(buf, output, scale=scale, title=f"vboard {host}:{port}")
        except OSError as e:
            _fail(f"cannot write {output}: {e}")
        state = "on" if status["on"] and status["charge_pump"] else "off"
        click.echo(f"{output} (panel {state}, {status['frames']} frames received)")


@vboard.command()
@click.option("--port", type=int, default=0, help="The pump's REPL TCP port (0: a free one).")
@path_option("--image", DEFAULT_IMAGE)
@path_option(
    "--fixture-image",
    FIXTURE_IMAGE,
    "A plain MicroPython image with its REPL on UART1 (make fidelity-image).",
)
@click.option("--pace", type=click.Choice(["realtime", "max"]), default="realtime")
def pair(port: int, image: Path, fixture_image: Path, pace: str) -> None:
    """Run the pump and the bench fixture, wired, until Ctrl-C."""
    p = VirtualPair(image, fixture_image, port=port, pace=pace, echo_output=True)
    stop = start_in_foreground(p, (VBoardError, fixture.FixtureError))
    try:
        click.echo(f"pump:    {p.url} (--port)")
        click.echo(f"fixture: {p.fixture_url} (--rig)")
        click.echo(f"protocol: {p.proto_url} (--proto, pumpctl --port)")
        click.echo(f"pump control: {p.host}:{p.port + 1} (--rig virtual); Ctrl-C stops", err=True)
        click.echo(f"{p.fixture_banner}", err=True)
        wait_in_foreground(p, stop)
    finally:
        p.close()
