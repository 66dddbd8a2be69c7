"""The host side of the bench fixture's protocol (pumphost.fixture.client) against a scripted
fixture on a real socket: what it refuses before a bench run can go wrong. The fixture firmware
itself runs on the virtual pair (hil/test_fixture_pair.py)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from pumphost.fixture.client import VERSION, FixtureClient, FixtureError, FixtureUnreachable


class ScriptedFixture:
    """Answers each request line with the reply its script gives (or nothing)."""

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.got: list[str] = []
        self._srv = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self._srv.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self._srv.accept()
        with conn:
            buf = b""
            while data := conn.recv(256):
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    req = line.decode().strip()
                    self.got.append(req)
                    reply = self.replies.get(req.split()[0])
                    if reply is not None:
                        conn.sendall(reply.encode() + b"\r\n")

    def close(self) -> None:
        self._srv.close()


@pytest.fixture
def scripted() -> Iterator[type[ScriptedFixture]]:
    made: list[ScriptedFixture] = []

    def make(replies: dict[str, str]) -> ScriptedFixture:
        f = ScriptedFixture(replies)
        made.append(f)
        return f

    yield make  # type: ignore[misc]
    for f in made:
        f.close()


def test_a_fixture_on_an_older_protocol_is_refused_naming_both_versions(scripted) -> None:
    old = scripted({"V": "V pumpfix 1 tick_ns 40"})
    with pytest.raises(FixtureUnreachable, match=f"version 1, this host speaks {VERSION}"):
        FixtureClient(old.url, timeout=2)


def test_a_cut_reports_the_edge_it_cut_on_and_a_refused_one_raises(scripted) -> None:
    fx = scripted(
        {
            "V": f"V pumpfix {VERSION} tick_ns 40",
            "CUT": "CUT 5000 5400",
            "L": "L 1 0 1 1 0 1 0 6000",
        }
    )
    c = FixtureClient(fx.url, timeout=2)
    try:
        assert c.cut_on_mark(125, 10, 1000) == (5000, 5400)
        assert fx.got[-1] == "CUT 125 10 1000"
        assert c.levels() == {
            "step": 1,
            "dir": 0,
            "en": 1,
            "mark": 1,
            "buzzer": 0,
            "led_red": 1,
            "led_green": 0,
        }
        fx.replies["CUT"] = "ERR CUT no MARK edge within 1000 ms: nothing cut"
        with pytest.raises(FixtureError, match="nothing cut"):
            c.cut_on_mark(125, 10, 1000)
    finally:
        c.close()
