"""Obtain Neo4j Community 5.26 from Maven Central and run it with Bolt on a loopback port.

The jars are resolved once with Maven into a cache directory (``~/.cache/ragkit/neo4j-<version>/``,
or ``$RAGKIT_NEO4J_HOME``); later runs reuse them without calling ``mvn``. The launcher
``Neo4jTestServer.java`` is compiled into the same directory and recompiled only when it changes.

CLI: ``python tests/neo4j_server/server.py [--port 7687] [--data DIR]`` runs a server until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
LAUNCHER_SOURCE = HERE / "Neo4jTestServer.java"
LAUNCHER_CLASS = "Neo4jTestServer"
HOST = "127.0.0.1"

JVM_FLAGS = (
    "-Xms256m",
    # The flags Neo4j's own neo4j.conf passes; without them the page cache and the
    # transaction-log file advice fall back to slower paths (warnings in debug.log).
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
)


class Neo4jServerError(RuntimeError):
    """Neo4j could not be obtained or started."""


class Neo4jConnection(NamedTuple):
    """Where tests reach Neo4j: a ``bolt://``/``neo4j://`` URI and driver auth (None when auth is disabled)."""

    uri: str
    auth: tuple[str, str] | None


@dataclass(frozen=True)
class Neo4jDistribution:
    """Resolved jars plus the compiled launcher, ready to run."""

    version: str
    home: Path
    lib_dir: Path
    classes_dir: Path

    @property
    def classpath(self) -> str:
        """Java classpath: every jar in ``lib_dir`` plus the launcher class."""
        return os.pathsep.join([str(self.lib_dir / "*"), str(self.classes_dir)])


def neo4j_version() -> str:
    """The Neo4j version pinned in ``pom.xml``."""
    match = re.search(r"<neo4j\.version>\s*([^<\s]+)\s*</neo4j\.version>", POM.read_text())
    if match is None:
        raise Neo4jServerError(f"no <neo4j.version> in {POM}")
    return match.group(1)


def default_cache_dir() -> Path:
    """``$RAGKIT_NEO4J_HOME`` or ``~/.cache/ragkit/neo4j-<version>``."""
    override = os.environ.get("RAGKIT_NEO4J_HOME")
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "ragkit" / f"neo4j-{neo4j_version()}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tool(name: str) -> str:
    """Path of ``java``/``javac``/``mvn``, preferring ``$JAVA_HOME/bin``."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / name).exists():
        return str(Path(java_home) / "bin" / name)
    found = shutil.which(name)
    if found is None:
        raise Neo4jServerError(f"`{name}` not found on PATH; the Neo4j test server needs a JDK 17+ and Maven")
    return found


def _run(cmd: list[str], what: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-4000:]
        raise Neo4jServerError(f"{what} failed (exit {result.returncode}): {' '.join(cmd)}\n{output}")


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise concurrent installers (e.g. pytest-xdist workers) on one cache directory."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ensure_jars(home: Path) -> Path:
    lib_dir = home / "lib"
    stamp = home / "lib.pom.sha256"
    pom_hash = _sha256(POM)
    if lib_dir.is_dir() and stamp.exists() and stamp.read_text() == pom_hash:
        return lib_dir
    print(f"[neo4j_server] resolving Neo4j {neo4j_version()} jars from Maven Central into {lib_dir}", file=sys.stderr)
    staging = home / "lib.partial"
    shutil.rmtree(staging, ignore_errors=True)
    _run(
        [_tool("mvn"), "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={staging}"],
        "Maven dependency resolution",
    )
    shutil.rmtree(lib_dir, ignore_errors=True)
    staging.rename(lib_dir)
    stamp.write_text(pom_hash)
    return lib_dir


def _ensure_launcher(home: Path, lib_dir: Path) -> Path:
    classes_dir = home / "classes"
    stamp = home / "classes.java.sha256"
    source_hash = _sha256(LAUNCHER_SOURCE)
    if (classes_dir / f"{LAUNCHER_CLASS}.class").exists() and stamp.exists() and stamp.read_text() == source_hash:
        return classes_dir
    shutil.rmtree(classes_dir, ignore_errors=True)
    classes_dir.mkdir(parents=True)
    _run(
        [_tool("javac"), "-d", str(classes_dir), "-cp", str(lib_dir / "*"), str(LAUNCHER_SOURCE)],
        "Compiling the Neo4j launcher",
    )
    stamp.write_text(source_hash)
    return classes_dir


def ensure_neo4j(cache_dir: Path | None = None) -> Neo4jDistribution:
    """Make sure the Neo4j jars and the compiled launcher are in ``cache_dir``; Maven runs only if needed."""
    home = (cache_dir or default_cache_dir()).resolve()
    with _locked(home):
        lib_dir = _ensure_jars(home)
        classes_dir = _ensure_launcher(home, lib_dir)
    return Neo4jDistribution(neo4j_version(), home, lib_dir, classes_dir)


def free_port() -> int:
    """A TCP port on the loopback interface that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "<missing>"


def _bolt_ready(uri: str) -> bool:
    """True once a Bolt session works (the ``neo4j`` driver if installed, else a TCP connect)."""
    try:
        import neo4j
    except ImportError:
        try:
            with socket.create_connection((HOST, int(uri.rsplit(":", 1)[1])), timeout=2):
                return True
        except OSError:
            return False
    try:
        with neo4j.GraphDatabase.driver(uri, auth=None, connection_timeout=5) as driver:
            driver.verify_connectivity()
        return True
    except Exception:
        return False


class Neo4jTestServer:
    """An embedded Neo4j Community server with Bolt on 127.0.0.1, auth disabled.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. Without ``data_dir`` the
    database lives in a temporary directory that :meth:`stop` deletes.
    """

    def __init__(
        self,
        port: int | None = None,
        data_dir: Path | str | None = None,
        *,
        cache_dir: Path | None = None,
        max_heap: str = "1g",
        pagecache_mb: int = 96,
        start_timeout: float = 180.0,
    ) -> None:
        self.port = port
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.cache_dir = cache_dir
        self.max_heap = max_heap
        self.pagecache_mb = pagecache_mb
        self.start_timeout = start_timeout
        self.auth: tuple[str, str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._home: Path | None = None
        self._owns_home = False

    @property
    def uri(self) -> str:
        """``bolt://127.0.0.1:PORT`` of the running server."""
        if self.port is None:
            raise Neo4jServerError("server not started")
        return f"bolt://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the Java process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def console_log(self) -> Path:
        """Java's stdout and stderr."""
        assert self._home is not None
        return self._home / "console.log"

    @property
    def debug_log(self) -> Path:
        """Neo4j's own debug.log."""
        assert self._home is not None
        return self._home / "logs" / "debug.log"

    def start(self) -> Neo4jTestServer:
        """Launch Java and wait until Bolt answers; raise :class:`Neo4jServerError` on failure or timeout."""
        if self._process is not None:
            raise Neo4jServerError("server already started")
        dist = ensure_neo4j(self.cache_dir)
        if self.port is None:
            self.port = free_port()
        if self.data_dir is None:
            self._home = Path(tempfile.mkdtemp(prefix="ragkit-neo4j-"))
            self._owns_home = True
        else:
            self._home = self.data_dir.resolve()
            self._home.mkdir(parents=True, exist_ok=True)
        cmd = [
            _tool("java"),
            f"-Xmx{self.max_heap}",
            *JVM_FLAGS,
            "-cp",
            dist.classpath,
            LAUNCHER_CLASS,
            str(self.port),
            str(self._home),
            str(self.pagecache_mb),
            "--watch-stdin",
        ]
        with open(self.console_log, "wb") as log:
            self._process = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        ready_line = f"READY {self.uri}"
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise Neo4jServerError(f"Neo4j exited with code {code} during startup.\n{self.log_tail()}")
            if ready_line in self.console_log.read_text(errors="replace") and _bolt_ready(self.uri):
                return
            time.sleep(0.25)
        raise Neo4jServerError(
            f"Neo4j did not answer on {self.uri} within {self.start_timeout:.0f} s.\n{self.log_tail()}"
        )

    def log_tail(self) -> str:
        """The last lines of the console log and of debug.log, for error messages."""
        return (
            f"--- Java console (last lines) ---\n{_tail(self.console_log)}\n"
            f"--- Neo4j debug.log (last lines) ---\n{_tail(self.debug_log)}"
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the server down (SIGTERM, then SIGKILL after ``timeout``) and delete a temporary data dir."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._owns_home and self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._owns_home = False

    def __enter__(self) -> Neo4jTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run a Neo4j server in the foreground until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=7687, help="Bolt port on 127.0.0.1 (default 7687; 0 = any)")
    parser.add_argument("--data", type=Path, help="Neo4j home/data directory to keep (default: a temporary one)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    server = Neo4jTestServer(port=args.port or None, data_dir=args.data)
    started = time.monotonic()
    with server:
        print(f"Neo4j {neo4j_version()} ready at {server.uri} (auth disabled) in {time.monotonic() - started:.1f} s")
        print(f"logs: {server.debug_log}; press Ctrl-C to stop", flush=True)
        try:
            while server.running:
                time.sleep(0.5)
        except KeyboardInterrupt:
            return 0
        print(f"Neo4j exited unexpectedly.\n{server.log_tail()}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
