"""A throwaway PostgreSQL cluster from Debian's postgresql, for the tests and the benchmark:
initdb into a temp dir, started on a unix socket in it (no TCP port, nothing shared with the
machine's own clusters), stopped and removed after."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path


def bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class Cluster:
    """with Cluster() as c: c.new_database() -> a URL for pumphost.review.db.engine."""

    def __init__(self, root: Path | None = None) -> None:
        # Not under pytest's tmp dir: that is private to root; the cluster runs as postgres.
        root = root or Path(tempfile.mkdtemp(prefix="pumpreview-pg-"))
        b = bindir()
        if b is None:
            raise FileNotFoundError(
                "no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)"
            )
        self.bin = b
        self.root = root
        self.data = root / "data"
        self.port = 5432 + int(uuid.uuid4().int % 20000)  # only names the socket file
        # initdb refuses to run as root: the cluster then belongs to the postgres user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--no-locale")  # fmt: skip
        opts = f"-c listen_addresses='' -c unix_socket_directories={self.root} -p {self.port} "
        opts += "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"  # throwaway
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts,
                  "-l", str(self.root / "log"), "-w", "start")  # fmt: skip

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                      "stop")  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, name: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{name}?host={self.root}&port={self.port}"

    def new_database(self) -> str:
        import psycopg

        name = "t" + uuid.uuid4().hex[:12]
        with psycopg.connect(host=str(self.root), port=self.port, user="postgres",
                             dbname="postgres", autocommit=True) as c:  # fmt: skip
            c.execute(f"CREATE DATABASE {name}")  # a generated name: nothing to quote
        return self.url(name)
