"""`pumpctl logs upload`: send a pulled log to the review service with the pump's token."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path


class UploadFailed(Exception):
    pass


class BadServer(UploadFailed):
    """The --server given is not an http(s) URL: nothing was tried."""


def check_server(server: str) -> str:
    """SERVER as an http:// or https:// URL with a host (and a numeric port, if any)."""
    try:
        u = urllib.parse.urlsplit(server)
        ok = u.scheme in ("http", "https") and bool(u.hostname)
        u.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        ok = False
    if not ok:
        raise BadServer(
            f"--server must be an http:// or https:// URL such as http://127.0.0.1:8000, "
            f"not {server!r}"
        )
    return server.rstrip("/")


def upload(path: Path, server: str, token: str, timeout: float = 120) -> dict[str, object]:
    """POST the file to SERVER/api/upload; returns the service's answer (what was stored)."""
    server = check_server(server)
    req = urllib.request.Request(
        server + "/api/upload",
        data=Path(path).read_bytes(),
        method="POST",
        headers={
            "authorization": f"Bearer {token}",
            "content-type": "application/octet-stream",
            "x-filename": Path(path).name,
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        try:
            msg = json.loads(e.read()).get("error", e.reason)
        except ValueError:
            msg = e.reason
        raise UploadFailed(f"{e.code}: {msg}") from None
    except urllib.error.URLError as e:
        raise UploadFailed(f"cannot reach {server}: {e.reason}") from None
    except (OSError, ValueError) as e:  # timed out, connection reset, not JSON
        raise UploadFailed(f"{server}: {e}") from None
