"""The review service in a thread on 127.0.0.1 (real uvicorn, real sockets), and a small
cookie-keeping HTTP client that fills in the CSRF token as a browser's form would."""

from __future__ import annotations

import http.cookiejar
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import uvicorn

from pumphost.review import db
from pumphost.review.app import create_app


class Server:
    def __init__(self, url: str, **app_kw: object) -> None:
        self.engine = db.engine(url)
        app = create_app(self.engine, **app_kw)  # type: ignore[arg-type]
        cfg = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                             limit_concurrency=500, backlog=512)  # fmt: skip
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        t = time.monotonic()
        while not self.server.started:
            if time.monotonic() - t > 30 or not self.thread.is_alive():
                raise RuntimeError("the review service did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.engine.dispose()


class Client:
    """A browser without JavaScript: cookies, redirects, forms with their CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.csrf = ""

    def request(
        self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str, dict[str, str]]:
        req = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(req, timeout=120) as r:
                status, body, hdrs = r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            status, body, hdrs = e.code, e.read(), dict(e.headers)
        text = body.decode("utf-8", "replace")
        m = re.search(r'name="csrf" value="([^"]+)"', text)
        if m:
            self.csrf = m.group(1)
        return status, text, hdrs

    def get(self, path: str) -> tuple[int, str]:
        s, t, _ = self.request(path)
        return s, t

    def post(self, path: str, fields: dict[str, str], csrf: bool = True) -> tuple[int, str]:
        if csrf:
            fields = {"csrf": self.csrf, **fields}
        s, t, _ = self.request(path, urllib.parse.urlencode(fields).encode())
        return s, t

    def post_file(
        self, path: str, fields: dict[str, str], name: str, content: bytes
    ) -> tuple[int, str]:
        b = uuid.uuid4().hex
        parts = [
            f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in {"csrf": self.csrf, **fields}.items()
        ]
        parts.append(
            f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{b}--\r\n".encode()
        hdrs = {"content-type": f"multipart/form-data; boundary={b}"}
        s, t, _ = self.request(path, body, hdrs)
        return s, t

    def login(self, user: str, password: str) -> int:
        self.get("/login")
        s, _ = self.post("/login", {"username": user, "password": password})
        return s
