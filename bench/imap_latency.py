"""Latency from a message's arrival in an IMAP mailbox to its acknowledgement reaching SMTP.

A real Dovecot (installed by scripts/install-dovecot.sh if missing) and a real SMTP server
(aiosmtpd) on loopback; pixbridge runs ``run_forever`` in a thread with IDLE push intake, the
local tracker and the ``smtp`` sender. 200 messages are APPENDed one after another, each once the
previous one's acknowledgement has arrived; the time from APPEND to the acknowledgement arriving
at the SMTP server is measured. Target: p50 under 2 s.

    .venv/bin/python bench/imap_latency.py [--messages 200]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import threading
import time
import warnings
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pixbridge_imap
from pixbridge_imap.testing import make_certificate, running_dovecot, start_smtp

from pixbridge.testing.harness import Harness

REPO = Path(__file__).resolve().parents[1]


def _request(n: int) -> tuple[str, bytes]:
    message_id = f"<bench-{n}.{time.time_ns()}@customer.example>"
    raw = (
        f"From: Customer {n} <customer{n}@customer.example>\r\n"
        "To: support@pix.example\r\n"
        f"Subject: Export crashes, case {n}\r\n"
        "Date: Mon, 12 Jan 2026 09:14:05 +0000\r\n"
        f"Message-ID: {message_id}\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "The export crashes every time.\r\nWindows 11 Pro 23H2\r\n"
    ).encode()
    return message_id, raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one ack")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's per-session chatter
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")

    with tempfile.TemporaryDirectory(prefix="pixbridge-bench-") as tmp:
        root = Path(tmp)
        (root / "tls").mkdir()
        certificate = make_certificate(root / "tls")
        controller, smtp = start_smtp()
        try:
            with running_dovecot(certificate) as dovecot:
                user, password = dovecot.new_user()
                harness = Harness(
                    root / "pixbridge",
                    templates_dir=REPO / "settings" / "templates",
                    pipeline={
                        "mail_source": "imap",
                        "mail_sender": "smtp",
                        "tracker": "local",
                        "license_validators": [],
                        "publishers": [],
                    },
                    adapters={"imap": dovecot.settings(user, password), "smtp": smtp.settings()},
                    lifecycle={"poll_interval": 60.0},
                    extra_plugins=[("imap", pixbridge_imap)],
                )

                def serve() -> None:
                    # The state store belongs to the thread that opened it: close it there too.
                    try:
                        harness.orchestrator.run_forever()
                    finally:
                        harness.close()

                loop = threading.Thread(target=serve, daemon=True)
                loop.start()
                appender = dovecot.admin(user, password)
                parser_ = BytesParser(policy=policy.default)
                latencies: list[float] = []
                seen = 0
                try:
                    for n in range(args.messages):
                        message_id, raw = _request(n)
                        started = time.perf_counter()
                        appender.append("INBOX", raw)
                        deadline = time.monotonic() + args.timeout
                        found = False
                        while not found:
                            messages = smtp.recorder.messages()
                            for ack in messages[seen:]:
                                reply_to = str(parser_.parsebytes(ack)["In-Reply-To"])
                                found = found or reply_to == message_id
                            seen = len(messages)
                            if not found:
                                if time.monotonic() > deadline:
                                    raise SystemExit(f"no acknowledgement of message {n} in time")
                                time.sleep(0.002)
                        latencies.append(time.perf_counter() - started)
                finally:
                    harness.orchestrator.stop()
                    appender.logout()
                    loop.join(timeout=90)
        finally:
            controller.stop()

    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    print(f"imap arrival -> smtp acknowledgement, {len(latencies)} messages, IDLE push:")
    print(f"  p50 {statistics.median(ordered) * 1000:8.1f} ms")
    print(f"  p95 {p95 * 1000:8.1f} ms")
    print(f"  max {ordered[-1] * 1000:8.1f} ms   (target: p50 under 2000 ms)")


if __name__ == "__main__":
    main()
