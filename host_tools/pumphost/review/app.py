"""The review service's web application (Starlette): login, pumps and patients, the patient
timeline, per-day CSV, the cohort view, the upload form and the device upload API.

Database work runs in the thread pool (sync SQLAlchemy), one transaction per request."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, Engine
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pumphost.review import analysis, auth, cohort, db, ingest, logins, plots, queries
from pumphost.review.figcache import FigureCache
from pumphost.review.queries import User

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescapes .html
SESSION_S = int(logins.Policy.session_s)


class Headers:
    """Security headers on every response: no framing, no sniffing, same-origin only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def wrapped(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                msg["headers"] = list(msg.get("headers", [])) + [
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (
                        b"content-security-policy",
                        b"default-src 'self'; style-src 'self' 'unsafe-inline'; "
                        b"img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
                    ),
                ]
            await send(msg)

        await self.app(scope, receive, wrapped)


def _fmt_t(t: int | None, tz: ZoneInfo) -> str:
    import datetime as dt

    if t is None:
        return "-"
    if not analysis.clock_set(t):
        return analysis.unset_time(t)
    return dt.datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M %Z")


def _utc(t: int | None) -> str:
    import datetime as dt

    if t is not None and not analysis.clock_set(t):
        return "clock not set"
    return "" if t is None else dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dur(s: float | None) -> str:
    if s is None:
        return "still active at the end of the record"
    s = int(s)
    return (
        f"{s // 3600} h {s // 60 % 60:02d} min" if s >= 3600 else f"{s // 60} min {s % 60:02d} s"
    )


templates.env.filters["utc"] = _utc
templates.env.filters["dur"] = _dur


def create_app(engine: Engine, policy: logins.Policy | None = None) -> Starlette:
    policy = policy or logins.Policy()
    db.migrate(engine)
    with engine.begin() as conn:
        secret = queries.secret(conn)

    # Uploads that store at once: SQLite has one writer (more would only queue inside the
    # database, holding pooled connections, until its busy timeout); PostgreSQL takes a few
    # (the work is mostly Python, one core at a time). The rest wait here, unhurried.
    slots = asyncio.Semaphore(1 if engine.dialect.name == "sqlite" else 4)
    cache = FigureCache()

    def warm(device_id: int) -> None:  # after an upload's response: the cohort stays quick
        with engine.begin() as conn:
            cache.warm(conn, device_id)

    def tx(fn, *args: Any) -> Any:  # noqa: ANN001
        def run() -> Any:
            with engine.begin() as conn:
                return fn(conn, *args)

        return run_in_threadpool(run)

    def session_user(conn: Connection, sid: object) -> User | None:
        uid = logins.session_user(conn, sid, time.time())  # None once logged out or expired
        return None if uid is None else queries.user(conn, uid)

    async def current(request: Request) -> User:
        u = await tx(session_user, request.session.get("sid"))
        if u is None:
            raise HTTPException(303, headers={"location": "/login"})
        return u

    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
        ctx["csrf"] = auth.csrf_token(request.session)
        ctx.setdefault("user", None)
        return templates.TemplateResponse(request, name, ctx, status_code=status)

    async def form_checked(request: Request) -> Any:
        form = await request.form(max_files=1, max_fields=20, max_part_size=64 * 1024)
        if not auth.csrf_ok(request.session, form.get("csrf")):  # type: ignore[arg-type]
            raise HTTPException(403, "the form's CSRF token is missing or stale: reload it")
        return form

    # --- login ---------------------------------------------------------------------------

    async def login_get(request: Request) -> Response:
        return page(request, "login.html")

    def address(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    async def login_post(request: Request) -> Response:
        form = await form_checked(request)
        name, pw = str(form.get("username", "")), str(form.get("password", ""))
        addr = address(request)
        until = await tx(logins.begin, policy, name, addr, time.time())
        if until is not None:  # locked: the password is not even looked at
            wait = max(1, int(until - time.time()))
            resp = page(request, "login.html", 429, error="too many failed log-ins for this "
                        "user name or from this address: try again in "
                        f"{_dur(wait)}, or ask an administrator")  # fmt: skip
            resp.headers["retry-after"] = str(wait)
            return resp
        uid = await tx(queries.login, name, pw)

        def done(conn: Connection) -> str | None:
            now = time.time()
            who = uid if uid is not None else logins.user_id(conn, name)
            logins.finish(conn, policy, name, addr, who, uid is not None, now)
            return None if uid is None else logins.new_session(conn, policy, uid, now)

        sid = await tx(done)
        if sid is None:
            return page(request, "login.html", 401, error="wrong user name or password")
        request.session.clear()  # a new session on login: nothing carried over
        request.session["sid"] = sid
        return RedirectResponse("/", 303)

    async def logout(request: Request) -> Response:
        await form_checked(request)
        await tx(logins.end_session, request.session.get("sid"), address(request))
        request.session.clear()
        return RedirectResponse("/login", 303)

    # --- pages ---------------------------------------------------------------------------

    async def index(request: Request) -> Response:
        u = await current(request)

        def load(conn: Connection) -> dict[str, Any]:
            return {
                "sites": queries.sites(conn, u),
                "devices": queries.devices(conn, u),
                "patients": queries.patients(conn, u),
                "uploads": queries.uploads(conn, u),
            }

        return page(request, "index.html", user=u, **await tx(load))

    def patient_view(conn: Connection, u: User, pid: int, action: str) -> dict[str, Any] | None:
        p = queries.patient(conn, u, pid)
        if p is None:
            return None
        queries.log_access(conn, u, action, pid)
        recs, asg = queries.patient_records(conn, pid)
        tz = ZoneInfo(p.tz)
        tl = analysis.timeline(recs)
        devs = sorted({a.device_id for a in asg})
        seqs = queries.device_seqs(conn, devs)
        burns = queries.device_anchors(conn, devs)
        serial = {a.device_id: a.serial for a in asg}
        return {
            "p": p,
            "tz": tz,
            "tl": tl,
            "asg": asg,
            "recs": len(recs),
            "days": analysis.per_day(tl, tz) if recs else [],
            "cuts": analysis.cuts(tl),
            "fig": analysis.figures(tl),
            "seq_gaps": [(serial[d], a, b, n) for d, a, b, n in analysis.seq_gaps(seqs, burns)],
        }

    async def patient(request: Request) -> Response:
        u = await current(request)
        pid = request.path_params["pid"]
        v = await tx(patient_view, u, pid, "view timeline")
        if v is None:
            raise HTTPException(404, "no such patient at your sites")
        if v["recs"]:
            tl, tz = v["tl"], v["tz"]
            v["svgs"] = await run_in_threadpool(
                lambda: [plots.dose(tl, tz), plots.rate(tl, tz), plots.alarms(tl, tz)]
            )
        return page(request, "patient.html", user=u, fmt=lambda t: _fmt_t(t, v["tz"]), **v)

    async def days_csv(request: Request) -> Response:
        u = await current(request)
        v = await tx(patient_view, u, request.path_params["pid"], "download days csv")
        if v is None:
            raise HTTPException(404, "no such patient at your sites")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["date", "delivered_ug", "programmed_ug", "dose_ug_per_24h_at_end",
                    "pauses", "paused_min", "alarms", "syringe_loads"])  # fmt: skip
        for d in v["days"]:
            w.writerow([d.date, f"{d.delivered_ug:.1f}", f"{d.programmed_ug:.1f}",
                        d.dose_end if d.dose_end is not None else "", d.pauses,
                        f"{d.paused_min:.0f}", d.alarms, d.loads])  # fmt: skip
        name = f"patient-{v['p'].id}-days.csv"
        return Response(
            buf.getvalue(),
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    def _ints(values: list[str], what: str) -> list[int]:
        try:
            return [int(v) for v in values]
        except ValueError:
            raise HTTPException(400, f"{what} must be whole numbers") from None

    def cohort_view(conn: Connection, u: User, site: int | None, chosen: list[int]) -> dict:
        everyone = queries.patients(conn, u, site)
        group = [p for p in everyone if not chosen or p.id in chosen]
        figs = []
        rows = []
        empty = []
        for p in group:
            queries.log_access(conn, u, "cohort", p.id)
            f = cache.get(conn, p.id)
            if f is None:  # enrolled, nothing uploaded yet: not a patient of the table
                empty.append(p)
                continue
            figs.append(f)
            rows.append((p, f))
        return {
            "sites": queries.sites(conn, u),
            "everyone": everyone,
            "chosen": set(chosen),
            "site": site,
            "rows": rows,
            "empty": empty,
            "table": cohort.table(figs).rows(),
            "study": cohort.STUDY,
        }

    async def cohort_page(request: Request) -> Response:
        u = await current(request)
        site = _ints(request.query_params.getlist("site"), "site")
        chosen = _ints(request.query_params.getlist("p"), "p")
        v = await tx(cohort_view, u, site[0] if site else None, chosen)
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {
                    "table": v["table"],
                    "patients": [
                        {"code": p.code, "site": p.site, **f.__dict__} for p, f in v["rows"]
                    ],
                }
            )
        return page(request, "cohort.html", user=u, **v)

    # --- uploads -------------------------------------------------------------------------

    async def upload_get(request: Request) -> Response:
        u = await current(request)
        devs = await tx(queries.devices, u)
        return page(request, "upload.html", user=u, devices=devs)

    def store(conn: Connection, device_id: int, data: bytes, name: str, uid: int | None):  # noqa: ANN202
        from sqlalchemy import select

        key = conn.execute(
            select(db.devices.c.hmac_key).where(db.devices.c.id == device_id)
        ).scalar()
        return ingest.store(conn, device_id, data, name, key, uid)

    async def upload_post(request: Request) -> Response:
        u = await current(request)
        _too_big(request)
        form = await request.form(max_files=1, max_fields=10, max_part_size=64 * 1024)
        if not auth.csrf_ok(request.session, form.get("csrf")):  # type: ignore[arg-type]
            raise HTTPException(403, "the form's CSRF token is missing or stale: reload it")
        devs = await tx(queries.devices, u)
        dev_ids = {d.id: d for d in devs}
        f = form.get("file")
        try:
            dev = int(str(form.get("device", "")))
        except ValueError:
            dev = -1
        if dev not in dev_ids:
            return page(request, "upload.html", 400, user=u, devices=devs,
                        error="choose one of your sites' pumps")  # fmt: skip
        if f is None or isinstance(f, str):
            return page(request, "upload.html", 400, user=u, devices=devs,
                        error="choose a .plog file")  # fmt: skip
        data = await f.read(ingest.MAX_BYTES + 1)
        try:
            if len(data) > ingest.MAX_BYTES:
                raise ingest.UploadError(f"the file is over {ingest.MAX_BYTES} bytes")
            async with slots:
                out = await tx(store, dev, data, f.filename or "upload.plog", u.id)
        except ingest.UploadError as e:
            return page(request, "upload.html", 422, user=u, devices=devs, error=str(e))
        resp = page(request, "upload.html", user=u, devices=devs, done=out,
                    device=dev_ids[dev])  # fmt: skip
        resp.background = BackgroundTask(warm, dev)
        return resp

    def _too_big(request: Request) -> None:
        n = request.headers.get("content-length")
        if n is not None and (not n.isdigit() or int(n) > ingest.MAX_BYTES + 64 * 1024):
            raise HTTPException(413, f"uploads are limited to {ingest.MAX_BYTES} bytes")

    async def api_upload(request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        dev = await tx(queries.device_by_token, token) if token else None
        if dev is None:
            return JSONResponse({"error": "unknown or missing device token"}, 401)
        try:
            _too_big(request)
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > ingest.MAX_BYTES:
                    raise HTTPException(413, f"uploads are limited to {ingest.MAX_BYTES} bytes")
        except HTTPException as e:
            return JSONResponse({"error": e.detail}, e.status_code)
        name = request.headers.get("x-filename", "upload.plog")
        try:
            async with slots:
                out = await tx(store, dev.id, bytes(body), name, None)
        except ingest.UploadError as e:
            return JSONResponse({"error": str(e)}, 422)
        return JSONResponse(
            {"device": dev.serial, **out.as_json()}, background=BackgroundTask(warm, dev.id)
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 303:
            return RedirectResponse(exc.headers["location"], 303)  # type: ignore[index]
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": exc.detail}, exc.status_code)
        return page(request, "error.html", exc.status_code, message=exc.detail)

    routes = [
        Route("/login", login_get, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", index),
        Route("/patients/{pid:int}", patient),
        Route("/patients/{pid:int}/days.csv", days_csv),
        Route("/cohort", cohort_page),
        Route("/api/cohort", cohort_page),
        Route("/upload", upload_get, methods=["GET"]),
        Route("/upload", upload_post, methods=["POST"]),
        Route("/api/upload", api_upload, methods=["POST"]),
        Route("/healthz", healthz),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(Headers),
            Middleware(
                SessionMiddleware, secret_key=secret, max_age=SESSION_S, same_site="strict"
            ),
        ],
        exception_handlers={HTTPException: http_error},
    )
