"""`pumpctl logs upload`: send a pulled log to the review service with the pump's token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path


class UploadFailed(Exception):
    pass


def upload(path: Path, server: str, token: str, timeout: float = 120) -> dict[str, object]:
    """POST the file to SERVER/api/upload; returns the service's answer (what was stored)."""
    req = urllib.request.Request(
        server.rstrip("/") + "/api/upload",
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
