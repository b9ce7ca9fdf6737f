"""A state store that cannot be reached: commands fail with one clean line, the service waits.

The unreachable store is PostgreSQL on a loopback port nobody listens on; the URL carries a
password, which must never be shown. The service's retry-then-proceed case puts a forwarder to
the real test server on that port while the service waits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lifecycle_helpers import REPO, cli_settings, mail
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pixbridge.cli.workers import _failure
from pixbridge.lifecycle import orchestrator as orchestrator_module
from pixbridge.lifecycle.app import build_app
from pixbridge.lifecycle.orchestrator import Orchestrator
from pixbridge.settings import load_settings
from pixbridge.testing.net import free_port

pytestmark = pytest.mark.slow

PASSWORD = "Zq7-never-shown-9xK"
URL_VARIABLE = "STORE_URL_UNDER_TEST"
WAITING = "state store unavailable"


def _url(port: int) -> str:
    return f"postgresql://pixbridge:{PASSWORD}@127.0.0.1:{port}/test"


def _settings(root: Path, schema: str = "pixbridge") -> Path:
    store = (
        f'[store]\nbackend = "postgresql"\nurl = {{ "$env" = "{URL_VARIABLE}" }}\n'
        f'schema = "{schema}"\n'
    )
    return cli_settings(root, "retry_delay = 0\npoll_interval = 0.2\nwake_check = 0.1", store)


def _env(settings: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXBRIDGE_")}
    env["PIXBRIDGE_SETTINGS"] = str(settings)
    env[URL_VARIABLE] = url
    return env


def _pixbridge(settings: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pixbridge", *args],
        env=_env(settings, url),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


class _Service:
    """``pixbridge run`` in the background; its stderr lines arrive on a queue."""

    def __init__(self, settings: Path, url: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pixbridge", "run"],
            env=_env(settings, url),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """The next stderr line containing *text* (every line read is kept in :attr:`seen`)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if text in line:
                return line
        pytest.fail(f"no line with {text!r} within {timeout} s; stderr so far:\n{self.output}")

    @property
    def output(self) -> str:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)

    def stop(self) -> tuple[int, float]:
        """SIGTERM; the exit status and the seconds it took to exit."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def service() -> Iterator[list[_Service]]:
    """Services started by the test; any still running at the end is killed."""
    started: list[_Service] = []
    yield started
    for each in started:
        each.kill()


# ------------------------------------------------------------------------- commands fail fast


@pytest.mark.parametrize(
    "args",
    [
        ("run", "--once"),
        ("run", "--once", "--json"),
        ("requests", "list"),
        ("quarantine", "list"),
        ("run", "--once", "--workers", "2"),
    ],
    ids=" ".join,
)
def test_a_command_needing_the_store_ends_with_one_clean_error(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    port = free_port()
    done = _pixbridge(_settings(tmp_path), _url(port), *args)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert PASSWORD not in output
    assert done.stdout == ""
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, done.stderr
    assert f"cannot connect to PostgreSQL database test on 127.0.0.1:{port}" in errors[0]
    assert "check [store] url" in errors[0]
    assert output.count("cannot connect") == 1  # two workers failing alike: said once
    if "--workers" in args:
        assert errors[0].startswith("Error: all 2 workers failed: cannot connect")


def test_worker_failures_with_different_reasons_are_each_named() -> None:
    alike = _failure({0: (1, "store down"), 1: (1, "store down")}, 2)
    assert alike == "all 2 workers failed: store down"
    mixed = _failure({1: (-9, ""), 0: (1, "store down")}, 3)
    assert mixed == (
        "worker 0 failed (exit status 1): store down; "
        "worker 1 failed (exit status -9): see the log above"
    )


# ------------------------------------------------------------------- the orchestrator's close


class _CountingRefuser:
    """A loopback listener that counts connections and closes each at once (no PostgreSQL)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def refuser() -> Iterator[_CountingRefuser]:
    server = _CountingRefuser()
    yield server
    server.close()


def _orchestrator(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> Orchestrator:
    monkeypatch.setenv(URL_VARIABLE, url)
    return Orchestrator(build_app(load_settings([_settings(tmp_path)])))


def test_close_neither_raises_nor_connects_when_the_store_never_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refuser: _CountingRefuser
) -> None:
    orchestrator = _orchestrator(tmp_path, _url(refuser.port), monkeypatch)
    try:
        orchestrator.close()
        assert refuser.connections == 0
        assert not orchestrator.app.store_open
    finally:
        orchestrator.app.close()


def test_a_failed_pass_then_close_connects_no_more(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    refuser: _CountingRefuser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    orchestrator = _orchestrator(tmp_path, _url(refuser.port), monkeypatch)
    try:
        # Every stage fails on the store, and the pass ends rather than raising: the service's
        # loop outlives the outage.
        result = orchestrator.run_once(until_all_idle=True)
        assert result.errors >= 1 and not result.busy
        assert "check [store] url" in caplog.text
        tried = refuser.connections
        assert tried >= 1  # the pass did try the store
        orchestrator.close()
        assert refuser.connections == tried
    finally:
        orchestrator.app.close()


class _Warned(logging.Handler):
    """Sets :attr:`warned` at the first warning it is handed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.warned = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.warned.set()


def test_waiting_for_the_store_ends_at_stop_not_at_the_next_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orchestrator_module, "STORE_RETRY_FIRST", 600.0)
    orchestrator = _orchestrator(tmp_path, _url(free_port()), monkeypatch)
    watch = _Warned()
    orchestrator_module.log.addHandler(watch)
    outcome: list[bool] = []
    waiter = threading.Thread(target=lambda: outcome.append(orchestrator.open_store(wait=True)))
    try:
        waiter.start()
        assert watch.warned.wait(60), "no warning for the failed attempt"
        orchestrator.stop()
        waiter.join(timeout=60)  # the next attempt would be 600 s away
        assert not waiter.is_alive()
        assert outcome == [False]
        assert not orchestrator.app.store_open
    finally:
        orchestrator.stop()
        orchestrator_module.log.removeHandler(watch)
        orchestrator.close()
        orchestrator.app.close()


# ----------------------------------------------------------------------------------- service


def test_the_service_retries_with_growing_delays_and_stops_promptly(
    tmp_path: Path, service: list[_Service]
) -> None:
    proc = _Service(_settings(tmp_path), _url(free_port()))
    service.append(proc)
    first = proc.wait_for(WAITING)
    second = proc.wait_for(WAITING)
    third = proc.wait_for(WAITING)
    assert "WARNING" in first and "attempt 1, next in 1 s" in first
    assert "attempt 2, next in 2 s" in second
    assert "attempt 3, next in 4 s" in third
    assert "cannot connect to PostgreSQL" in third and "check [store] url" in third
    code, seconds = proc.stop()
    output = proc.output
    assert code == 0, output
    assert seconds < 3, f"took {seconds:.1f} s to stop while waiting 4 s for the next attempt"
    assert output.count(WAITING) == 3
    assert "Traceback" not in output
    assert PASSWORD not in output


class _Forwarder:
    """Listens on a loopback port and passes each connection on to *target*."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.sock = socket.create_server(("127.0.0.1", port))
        self.sock.settimeout(0.1)
        self.target = target
        self._stop = threading.Event()
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except TimeoutError:
                continue
            client.settimeout(None)
            upstream = socket.create_connection(self.target, timeout=10)
            upstream.settimeout(None)
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()
        for sock in self._open:
            sock.close()


def test_the_service_proceeds_once_the_store_is_reachable(
    tmp_path: Path, service: list[_Service]
) -> None:
    from pixbridge_postgres.testing import fresh_schema

    inbox = tmp_path / "var" / "mail" / "inbox"
    for sub in ("new", "cur", "tmp"):
        (inbox / sub).mkdir(parents=True)
    (inbox / "new" / "1.mail").write_bytes(mail(subject="Waiting for the database"))
    port = free_port()
    with fresh_schema() as (real_url, schema):
        real = conninfo_to_dict(real_url)
        target = (str(real.get("host") or "127.0.0.1"), int(real.get("port") or 5432))
        url = make_conninfo(real_url, host="127.0.0.1", port=str(port))
        proc = _Service(_settings(tmp_path, schema), url)
        service.append(proc)
        proc.wait_for(WAITING)  # attempt 1 failed: nothing listens yet
        forwarder = _Forwarder(port, target)
        try:
            processed = tmp_path / "var" / "mail" / "processed" / "cur"
            deadline = time.monotonic() + 60
            while not (processed.is_dir() and any(processed.iterdir())):
                assert proc.proc.poll() is None, proc.output
                assert time.monotonic() < deadline, f"nothing processed:\n{proc.output}"
                time.sleep(0.05)
            code, _ = proc.stop()
        finally:
            proc.kill()  # before the forwarder and the schema go
            forwarder.close()
    output = proc.output
    assert code == 0, output
    assert "Traceback" not in output
    sent = tmp_path / "var" / "mail" / "sent" / "new"
    assert len(list(sent.iterdir())) == 1  # the acknowledgement: the pass ran on the store
