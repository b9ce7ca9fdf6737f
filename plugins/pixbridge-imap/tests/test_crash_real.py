"""Crash safety on the real adapters: SIGKILL at every named point, then restart until idle.

The same test as ``tests/test_crash.py``, but ``pixbridge run --once`` reads a real Dovecot over
IMAP, registers in the fake Jira over HTTP and sends through a real SMTP server (aiosmtpd), all
running in this test process. Every case starts from a fresh mailbox user, a fresh Jira site
and a fresh data directory. The outcome is judged on the servers' own records: Jira's issues and
comments, the mail the SMTP server accepted, the IMAP folders.

Each case runs one uncrashed setup pass (two requests registered), lets an agent work in Jira
(a public and an internal comment, a completion) and delivers a second batch (new requests, a
reply to an open request, a reply to the completed one, an out-of-office); then the armed pass
meets every crash point, inbound and outbound alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pixbridge_imap
import pixbridge_jira
import pytest
from lifecycle_helpers import REPO, TEMPLATES, mail
from pixbridge_imap.testing import Dovecot, SmtpServer
from pixbridge_jira.testing import Agent, FakeJira, settings_for

from pixbridge.faults import POINTS
from pixbridge.testing.contracts.mail import message_id_of
from pixbridge.testing.harness import Harness

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]

SUPPORT = "support@pix.example"
PIPELINE: dict[str, Any] = {
    "mail_source": "imap",
    "mail_sender": "smtp",
    "tracker": "jira",
    "license_validators": [],
    "publishers": [],
}
FIRST = [f"customer{n}@client{n}.example" for n in range(2)]
"""Registered by the setup pass; the agent then comments on the first, completes the second."""
SECOND = [f"customer{n}@client{n}.example" for n in range(2, 5)]
"""New customers in the batch the armed pass handles."""
PUBLIC, INTERNAL, ANSWER = "Try build 13.", "Internal: same as PIX-1234.", "Fixed in build 14."
# Which meetings of a point the crash is armed for (the armed pass meets after_create and
# after_register 4 times, the mailbox acknowledgement and sending 6, tracker changes 3). Every point
# gets its first meeting; a few also a later one that leaves a different state behind:
# - after_create 4: the follow-up of the completed request exists in Jira, not yet linked;
# - after_sync_change 3: the completion, after the public comment's mail was queued;
# - after_send 4: mid-batch, three mails of this pass already recorded as sent.
HITS = {"after_create": [1, 4], "after_sync_change": [1, 3], "after_send": [1, 4]}


def _cases() -> list[tuple[str, int]]:
    return [(point, hit) for point in POINTS for hit in HITS.get(point, [1])]


# ---------------------------------------------------------------- settings and runs


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(f"no TOML for {value!r}")


def _write_settings(root: Path, adapters: dict[str, dict[str, Any]]) -> Path:
    # The harness keeps its data in <root>/var; the CLI is told the same.
    lines = [
        f"data_dir = {_toml_value(str(root / 'var'))}",
        f"templates_dir = {_toml_value(str(TEMPLATES))}",
        "[support]",
        f"address = {_toml_value(SUPPORT)}",
        "[pipeline]",
        *(f"{key} = {_toml_value(value)}" for key, value in PIPELINE.items()),
        "[lifecycle]",
        "retry_delay = 0",
    ]
    for name, values in adapters.items():
        lines.append(f"[adapters.{name}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
    path = root / "pixbridge.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Deployment:
    """pixbridge as ops would run it: a settings file, secrets in the environment, the CLI."""

    def __init__(self, settings: Path, secrets: dict[str, str]) -> None:
        self.settings = settings
        self.secrets = secrets

    def setup_pass(self) -> None:
        """One pass in this process, on the same settings file and data directory.

        Only to prepare a case (the CLI's interpreter start-up costs more than the pass); the
        secrets' variables must be in this process's environment.
        """
        harness = Harness(
            self.settings.parent,
            templates_dir=TEMPLATES,
            settings_files=[self.settings],
            extra_plugins=[("imap", pixbridge_imap), ("jira", pixbridge_jira)],
            support={"address": SUPPORT},
            pipeline=PIPELINE,
        )
        try:
            result = harness.run()
        finally:
            harness.close()
        assert result.errors == 0 and result.processed > 0, result

    def run(self, crash: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIXBRIDGE_")}
        env.update(self.secrets)
        env["PIXBRIDGE_SETTINGS"] = str(self.settings)
        if crash:
            env["PIXBRIDGE_CRASH_AT"] = crash
        return subprocess.run(
            [sys.executable, "-m", "pixbridge", "run", "--once", "--json"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def run_clean(self) -> dict[str, int]:
        done = self.run()
        assert done.returncode == 0, done.stderr
        result: dict[str, int] = json.loads(done.stdout)
        assert result["errors"] == 0, done.stderr
        return result

    def until_idle(self) -> int:
        """Restart until a pass finds nothing left to do; how many passes did work."""
        for busy in range(5):
            result = self.run_clean()
            if not any(
                result[k]
                for k in ("accepted", "processed", "mailbox_acknowledged", "changes", "sent")
            ):
                return busy
        raise AssertionError("pixbridge still finds work after five restarts")


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira(cloud=False) as site:
        yield site


@pytest.fixture
def deployment(
    tmp_path: Path,
    dovecot: Dovecot,
    mailbox: tuple[str, str],
    smtp_server: SmtpServer,
    jira: FakeJira,
    monkeypatch: pytest.MonkeyPatch,
) -> Deployment:
    imap = dovecot.settings(*mailbox, timeout=10)
    smtp = smtp_server.settings()
    tracker = settings_for(jira, reconcile_patience=0.5)
    secrets = {
        "PBTEST_IMAP_PASSWORD": imap.pop("password"),
        "PBTEST_SMTP_PASSWORD": smtp.pop("password"),
        "PBTEST_JIRA_TOKEN": tracker.pop("token"),
    }
    imap["password"] = {"$env": "PBTEST_IMAP_PASSWORD"}
    smtp["password"] = {"$env": "PBTEST_SMTP_PASSWORD"}
    tracker["token"] = {"$env": "PBTEST_JIRA_TOKEN"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)  # for the setup pass in this process
    path = _write_settings(tmp_path, {"imap": imap, "smtp": smtp, "jira": tracker})
    return Deployment(path, secrets)


# ---------------------------------------------------------------- what the servers hold


def _parsed(raw: bytes) -> EmailMessage:
    message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
    return message


def _folder_ids(admin: Any, folder: str) -> list[str | None]:
    if not admin.folder_exists(folder):
        return []
    admin.select_folder(folder, readonly=True)
    uids = admin.search(["ALL"])
    fetched = admin.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
    return [message_id_of(fetched[uid][b"BODY[]"]) for uid in sorted(fetched)]


def _text(body: Any) -> str:
    """A comment body as text (a string on Data Center, an ADF document on Cloud)."""
    return body if isinstance(body, str) else json.dumps(body)


def _issue_by_summary(jira: FakeJira) -> dict[str, str]:
    with jira.state.lock:
        summaries = Counter(i.fields["summary"] for i in jira.state.issues.values())
        assert all(n == 1 for n in summaries.values()), f"issues registered twice: {summaries}"
        return {i.fields["summary"]: key for key, i in jira.state.issues.items()}


def _body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    return part.get_content() if part is not None else ""


# ---------------------------------------------------------------- the test


@pytest.mark.parametrize(("point", "hit"), _cases())
def test_sigkill_at_every_point_on_real_servers(
    deployment: Deployment,
    dovecot: Dovecot,
    mailbox: tuple[str, str],
    smtp_server: SmtpServer,
    jira: FakeJira,
    point: str,
    hit: int,
) -> None:
    admin = dovecot.admin(*mailbox)
    opening: dict[str, bytes] = {}  # subject -> raw, of every message that must open a request
    for customer in FIRST:
        raw = mail(sender=customer, subject=f"Problem of {customer}")
        opening[f"Problem of {customer}"] = raw
        admin.append("INBOX", raw)
    deployment.setup_pass()
    known = _issue_by_summary(jira)
    open_key, done_key = (known[f"Problem of {c}"] for c in FIRST)
    agent = Agent(jira)
    agent.comment(open_key, PUBLIC, public=True)
    agent.comment(open_key, INTERNAL, public=False)
    agent.complete(done_key, ANSWER)

    for customer in SECOND:
        raw = mail(sender=customer, subject=f"Problem of {customer}")
        opening[f"Problem of {customer}"] = raw
        admin.append("INBOX", raw)
    reply = mail(sender=FIRST[0], subject=f"Re: [{open_key}] more", body="details", attachments=())
    followup_subject = f"Re: [{done_key}] still broken"
    opening[followup_subject] = mail(
        sender=FIRST[1], subject=followup_subject, body="Still crashes.", attachments=()
    )
    automated = mail(headers={"Auto-Submitted": "auto-replied"}, subject="Out of office")
    for raw in (reply, opening[followup_subject], automated):
        admin.append("INBOX", raw)

    armed = deployment.run(crash=f"{point}:{hit}")
    assert armed.returncode == -9, (
        f"the pass armed with {point}:{hit} was not killed (exit {armed.returncode}): the crash "
        f"point is not met that often on this path\n{armed.stderr[-3000:]}"
    )
    assert deployment.until_idle() >= 1, "the restart after the crash found nothing left to do"

    # Jira: one issue per opening message, none twice (same summary or same marker).
    issues = _issue_by_summary(jira)
    assert sorted(issues) == sorted(opening)
    with jira.state.lock:
        by_key = dict(jira.state.issues)
        markers = [
            label
            for i in by_key.values()
            for label in i.fields["labels"]
            if label.startswith("pb-")
        ]
        assert len(markers) == len(set(markers)) == len(by_key)
        for summary, key in issues.items():
            files = [a["filename"] for a in by_key[key].attachments]
            assert files == ([] if summary == followup_subject else ["export.log"]), (key, files)
        followup = issues[followup_subject]
        links = {key: [(kind, other) for _, kind, _, other in i.links] for key, i in by_key.items()}
        assert links[followup] == [("Relates", done_key)], links
        assert links[done_key] == [("Relates", followup)], links
        assert all(not v for k, v in links.items() if k not in (followup, done_key)), links
        # The reply is one comment on the open request, not an issue, and nothing else is.
        ours = {
            key: [_text(c.body) for c in i.comments if c.author.name == "pixbridge"]
            for key, i in by_key.items()
        }
        commented = {key: bodies for key, bodies in ours.items() if bodies}
        assert list(commented) == [open_key] and len(commented[open_key]) == 1, commented
        assert "details" in commented[open_key][0]

    # SMTP: each mail once by Message-ID; SMTP cannot tell whether it already has a message, so
    # only the one mail in flight when pixbridge died after sending it may arrive twice, whole.
    received = smtp_server.recorder.messages()
    copies = Counter(message_id_of(raw) for raw in received)
    twice = {mid: n for mid, n in copies.items() if n > 1}
    if point == "after_send":
        assert list(twice.values()) == [2], twice
        [again] = twice
        assert len({raw for raw in received if message_id_of(raw) == again}) == 1
    else:
        assert not twice, twice
    mails = {mid: _parsed(raw) for raw in received if (mid := message_id_of(raw))}
    requested = {str(message_id_of(raw)): subject for subject, raw in opening.items()}
    acks = {mid: m for mid, m in mails.items() if str(m["In-Reply-To"]) in requested}
    # One acknowledgement per request, answering the message that opened it, naming its key.
    assert sorted(str(m["In-Reply-To"]) for m in acks.values()) == sorted(requested)
    for ack in acks.values():
        key = issues[requested[str(ack["In-Reply-To"])]]
        assert str(ack["Subject"]).startswith(f"[{key}] "), (key, ack["Subject"])
    # One mail per public agent action; the internal comment reaches nobody.
    others = [m for mid, m in mails.items() if mid not in acks]
    assert sorted((str(m["To"]), str(m["Subject"]).partition(" ")[0]) for m in others) == [
        (FIRST[0], f"[{open_key}]"),
        (FIRST[1], f"[{done_key}]"),
    ], [(m["To"], m["Subject"]) for m in others]
    by_recipient = {str(m["To"]): _body(m) for m in others}
    assert PUBLIC in by_recipient[FIRST[0]] and ANSWER in by_recipient[FIRST[1]]
    assert not any(INTERNAL in _body(m) for m in mails.values())

    # IMAP: the inbox is empty; every message was moved to Processed exactly once.
    delivered = [*opening.values(), reply, automated]
    assert _folder_ids(admin, "INBOX") == []
    assert Counter(_folder_ids(admin, "Processed")) == Counter(message_id_of(r) for r in delivered)
    assert _folder_ids(admin, "Quarantine") == []
    admin.logout()
