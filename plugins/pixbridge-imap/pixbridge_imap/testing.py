"""Real mail servers on loopback for tests and benchmarks of pixbridge-imap.

- :func:`start_dovecot`: Dovecot from Debian's packages (installed by the project's
  ``scripts/install-dovecot.sh`` when missing; the system service is never started), run as
  ``dovecot -F -c <conf>`` from a temporary directory. Dovecot refuses to run login processes or
  mail access as root, so its login processes run as the package's ``dovenull`` user and mail
  access as its ``dovecot`` user, which owns the temporary mail directory. Users ``user0`` ...
  each have a mailbox of their own, so a test can start from an empty one.
- :func:`start_smtp`: aiosmtpd (a test extra) with AUTH required, recording every message.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from pixbridge.testing.net import free_port

REPO = Path(__file__).resolve().parents[3]
"""The source checkout this plugin is bundled in (``plugins/pixbridge-imap/pixbridge_imap``)."""
INSTALL_SCRIPT = REPO / "scripts" / "install-dovecot.sh"
USERS = 400
OAUTH_USER = "oauth"
OAUTH_TOKEN = "ya29.test-token-for-oauth"
SMTP_USER = "pixbridge"
SMTP_PASSWORD = "smtp-secret"


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    out = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise ServerStartError(f"dovecot did not start on 127.0.0.1:{port}; its log:\n{out}")


@dataclass
class Certificate:
    """A self-signed certificate for ``localhost`` and 127.0.0.1."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """A TLS server context presenting this certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


@dataclass
class Dovecot:
    """A running Dovecot: a plain IMAP port (STARTTLS offered) and an implicit-TLS port."""

    port: int
    tls_port: int
    root: Path
    certificate: Certificate
    _next_user: Any = field(default_factory=lambda: iter(range(USERS)))

    host = "127.0.0.1"

    def new_user(self) -> tuple[str, str]:
        """A mailbox user no other test has used: (name, password)."""
        number = next(self._next_user)
        return f"user{number}", f"secret-{number}"

    def admin(self, user: str, password: str) -> Any:
        """A separate logged-in connection, as another mail client would have."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(user, password)
        return client

    def settings(self, user: str, password: str, **extra: Any) -> dict[str, Any]:
        """Settings of the ``imap`` adapter for *user* over plain loopback."""
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "security": "plain",
            "username": user,
            "password": password,
        }
        values.update(extra)
        return values


def make_certificate(directory: Path) -> Certificate:
    """Create a self-signed certificate for ``localhost``/127.0.0.1 in *directory* (openssl)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return Certificate(cert, key)


def _config(root: Path, port: int, tls_port: int, certificate: Certificate) -> str:
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{certificate.cert}
ssl_key = <{certificate.key}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2
auth_failure_delay = 0
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
mailbox_idle_check_interval = 1 secs
protocol imap {{
  mail_max_userip_connections = 50
  imap_idle_notify_interval = 1 mins
}}
"""


class ServerStartError(RuntimeError):
    """A test server could not be installed or started; the message says why."""


def install_dovecot() -> str:
    """Run ``scripts/install-dovecot.sh`` (idempotent) and return the ``dovecot`` binary."""
    done = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True)
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if done.returncode != 0 or not Path(binary).exists():
        raise ServerStartError(
            f"installing Dovecot with {INSTALL_SCRIPT} failed (exit {done.returncode}); the IMAP "
            "tests need Debian's dovecot-imapd (root, and the package mirror reachable).\n"
            f"{done.stdout}\n{done.stderr}"
        )
    return binary


@contextmanager
def running_dovecot(certificate: Certificate) -> Iterator[Dovecot]:
    """Dovecot listening on two free loopback ports, stopped and removed afterwards."""
    binary = install_dovecot()
    # Dovecot's unprivileged processes must reach base_dir and the mail: not a 0700 pytest dir.
    root = Path(tempfile.mkdtemp(prefix="pixbridge-dovecot-", dir="/tmp"))
    root.chmod(0o755)
    (root / "mail").mkdir()
    shutil.chown(root / "mail", "dovecot", "dovecot")
    lines = [f"user{n}:{{PLAIN}}secret-{n}::::::" for n in range(USERS)]
    lines.append(f"{OAUTH_USER}:{{PLAIN}}{OAUTH_TOKEN}::::::")
    (root / "passwd").write_text("\n".join(lines) + "\n")
    port, tls_port = free_port(), free_port()
    conf = root / "dovecot.conf"
    conf.write_text(_config(root, port, tls_port, certificate))
    proc = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL)
    try:
        _wait_for_port(port, proc, root / "dovecot.log")
        yield Dovecot(port, tls_port, root, certificate)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- SMTP


class Recorder:
    """An aiosmtpd handler that keeps every message it accepted, with its envelope.

    It answers like a mail server's policy would: recipients at ``greylist.example`` get a
    temporary 450, at ``nowhere.example`` a permanent 550; a message with a header
    ``X-Test-Reject: 554`` is refused after DATA.
    """

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        if domain == "greylist.example":
            return "450 4.2.0 greylisted, try again later"
        if domain == "nowhere.example":
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = bytes(envelope.original_content or envelope.content)
        if b"\nX-Test-Reject: 554" in content:
            return "554 5.6.0 message refused by policy"
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), content))
        return "250 OK queued"

    def messages(self) -> list[bytes]:
        """What was accepted, in order."""
        with self.lock:
            return [raw for _, _, raw in self.received]


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    """A running aiosmtpd with AUTH required."""

    port: int
    recorder: Recorder
    host = "127.0.0.1"

    def settings(self, **extra: Any) -> dict[str, Any]:
        """Settings of the ``smtp`` adapter for this server over plain loopback."""
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "security": "plain",
            "username": SMTP_USER,
            "password": SMTP_PASSWORD,
        }
        values.update(extra)
        return values


def start_smtp(**kwargs: Any) -> tuple[Any, SmtpServer]:
    """Start aiosmtpd on a free loopback port with AUTH required; returns (controller, server).

    Keyword arguments go to aiosmtpd's ``Controller`` (``tls_context=`` for STARTTLS,
    ``ssl_context=`` for implicit TLS). Stop it with ``controller.stop()``.
    """
    from aiosmtpd.controller import Controller  # a test extra, not a runtime dependency

    recorder = Recorder()
    port = free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_required=True,
        auth_require_tls=False,
        **kwargs,
    )
    controller.start()
    return controller, SmtpServer(port, recorder)


class DroppingProxy:
    """A TCP relay on loopback that can cut its connections at a chosen moment.

    :meth:`arm` names a byte pattern and a direction (``"up"``: client to server, ``"down"``:
    server to client). The next time the pattern passes, the bytes up to and including it are
    relayed (``"down"``) or not (``"up"``), and then both sides of that connection are closed, as
    when a network path dies mid-command.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._armed: tuple[str, bytes] | None = None
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self.drops = 0
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, direction: str, pattern: bytes) -> None:
        """Cut the connection the next time *pattern* passes in *direction*."""
        with self._lock:
            self._armed = (direction, pattern)

    @property
    def armed(self) -> bool:
        """Whether a cut is still waiting for its pattern."""
        with self._lock:
            return self._armed is not None

    def close(self) -> None:
        """Stop accepting and close every relayed connection."""
        self._stopped = True
        self.listener.close()
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            self._shut(pair)

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            pair = (client, server)
            with self._lock:
                self._pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair, "up"), daemon=True).start()
            threading.Thread(target=self._pump, args=(pair, "down"), daemon=True).start()

    @staticmethod
    def _shut(pair: tuple[socket.socket, socket.socket]) -> None:
        for sock in pair:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _pump(self, pair: tuple[socket.socket, socket.socket], direction: str) -> None:
        source, sink = pair if direction == "up" else (pair[1], pair[0])
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._shut(pair)
                return
            with self._lock:
                armed = self._armed
                cut = armed is not None and armed[0] == direction and armed[1] in data
                if cut:
                    self._armed = None
                    self.drops += 1
            if cut:
                assert armed is not None
                if direction == "down":
                    with contextlib.suppress(OSError):
                        sink.sendall(data[: data.index(armed[1]) + len(armed[1])])
                self._shut(pair)
                return
            try:
                sink.sendall(data)
            except OSError:
                self._shut(pair)
                return
