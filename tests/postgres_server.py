"""A throwaway PostgreSQL cluster for the tests: ``initdb`` into a temporary folder and ``pg_ctl`` on a loopback port.

PostgreSQL refuses to run as root, so when the tests run as root (CI on the project's machines) the cluster is
created and run as the ``postgres`` user. Local connections are trusted, except for the role ``ragkit_secret``, which
must give its password — the tests of passwords read from the environment log in with it. A watchdog stops the
cluster if the test process dies without stopping it.

CLI: ``python tests/postgres_server.py`` runs one until Ctrl-C and prints its URL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
SECRET_ROLE, SECRET_PASSWORD = "ragkit_secret", "s3cret-for-tests"


class PostgresServerError(RuntimeError):
    """The cluster could not be created or started."""


def bin_dir() -> Path:
    """Where the server programs are: ``$PG_BIN``, ``pg_config --bindir`` if it holds ``initdb``, or the newest
    ``/usr/lib/postgresql/*/bin`` (Debian keeps them off PATH)."""
    candidates = [os.environ.get("PG_BIN", "")]
    if shutil.which("pg_config"):
        done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(done.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for candidate in filter(None, candidates):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    raise PostgresServerError("PostgreSQL's initdb and pg_ctl were not found (install the Debian package "
                              "'postgresql', or set PG_BIN to their folder)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class PostgresTestServer:
    """One cluster in a temporary folder; ``url`` reaches it as the superuser ``postgres`` (trusted, no password)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="ragkit-pg-"))
        self.data = self.home / "data"
        self.log = self.home / "server.log"
        self._bin = bin_dir()
        self._user = "postgres" if os.geteuid() == 0 else None
        self._watchdog: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/postgres"

    def url_as(self, role: str) -> str:
        return f"postgresql://{role}@{HOST}:{self.port}/postgres"

    def _run(self, *command: str, timeout: float = 120) -> str:
        argv = [str(self._bin / command[0]), *command[1:]]
        if self._user:
            argv = ["runuser", "-u", self._user, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.home)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PostgresServerError(f"{' '.join(command)} failed: {done.stderr.strip() or done.stdout.strip()}\n"
                                      f"{log}")
        return done.stdout

    def create(self) -> PostgresTestServer:
        if self._user:
            owner = pwd.getpwnam(self._user)
            os.chown(self.home, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        hba = self.data / "pg_hba.conf"
        hba.write_text(f"host all {SECRET_ROLE} {HOST}/32 scram-sha-256\n" + hba.read_text())
        return self

    def start(self) -> PostgresTestServer:
        if not self.data.exists():
            self.create()
        # fsync off only matters if the machine itself crashes; commits still wait for the WAL write, so a killed
        # server keeps every acknowledged transaction (the restart test relies on it).
        options = (f"-p {self.port} -c listen_addresses={HOST} -c unix_socket_directories={self.home} "
                   "-c fsync=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        if self._watchdog is None:  # stops the cluster if this process dies without stopping it
            ctl = [str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
            if self._user:
                ctl = ["runuser", "-u", self._user, "--", *ctl]
            self._watchdog = subprocess.Popen(["sh", "-c", 'read _ignored; exec "$@" >/dev/null 2>&1', "watchdog",
                                               *ctl], stdin=subprocess.PIPE, start_new_session=True)
        return self

    def ready(self) -> None:
        """Create the role that logs in with a password."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f"CREATE ROLE {SECRET_ROLE} LOGIN SUPERUSER PASSWORD '{SECRET_PASSWORD}'")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate`` is a crash: no checkpoint, recovery on the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        if self.running():
            try:
                self.stop("immediate")
            except PostgresServerError:
                pass
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
            self._watchdog = None
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> PostgresTestServer:
        try:
            self.start()
            self.ready()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.destroy()


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    raise PostgresServerError(f"nothing listens on {HOST}:{port}")


if __name__ == "__main__":
    with PostgresTestServer() as server:
        print(server.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
