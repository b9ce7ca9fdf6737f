"""``release publish``: check the rules, record the release, run every publisher, tell the customers.

Each step checks the recorded state first, then acts, so any run can be repeated:

1. **Read** ``DIST_DIR``: every file with its SHA-256, the documents, the change entries.
2. **Check**: a version seen before must have the identical files and change entries (then the
   run *resumes*); a new one must pass :func:`~pixbridge.releases.rules.check_rules`.
3. **Record** the release, its rendered notes and one step per configured publisher, in one
   transaction (skipped by ``--dry-run``, which stops here).
4. **Write** ``SHA256SUMS`` and the release notes into ``DIST_DIR``; they are published too.
5. **Publish** with every publisher whose step is not done; each outcome is recorded. A failed
   publisher leaves the release ``publishing`` and the command fails: run it again to resume.
6. When every step is done the release is ``published`` and the customers waiting for the
   build are told (:mod:`pixbridge.releases.waiting`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixbridge.errors import AdapterError, PixbridgeError
from pixbridge.lifecycle.app import App
from pixbridge.models import ReleaseFile, ReleaseManifest
from pixbridge.releases.distribution import (
    SUMS,
    Distribution,
    notes_file_name,
    read_distribution,
    sha256sums,
)
from pixbridge.releases.notes import FORMATS, FixedRequest, render_notes
from pixbridge.releases.problems import ReleaseConflict, ReleaseRefused
from pixbridge.releases.rules import check_rules
from pixbridge.releases.state import ReleaseRow, ReleaseStore
from pixbridge.releases.version import Version, check_product
from pixbridge.releases.waiting import notify_waiting
from pixbridge.store.db import IntegrityError

__all__ = ["PublishReport", "publish_release"]

log = logging.getLogger("pixbridge.releases")


@dataclass
class PublishReport:
    """What one ``release publish`` run found and did."""

    product: str
    version: str
    identity: str
    status: str
    """``dry-run``, ``publishing`` (a step failed: run again) or ``published``."""
    resumed: bool
    """The version was recorded by an earlier run with the identical manifest."""
    files: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    """Requests whose customer was mailed in this run."""
    tracker_pending: list[str] = field(default_factory=list)
    notes: Mapping[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Every publisher has the release."""
        return self.status == "published"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``--json``)."""
        return {
            "product": self.product,
            "version": self.version,
            "identity": self.identity,
            "status": self.status,
            "resumed": self.resumed,
            "files": self.files,
            "steps": self.steps,
            "notified": self.notified,
            "tracker_pending": self.tracker_pending,
        }


def _file_dict(f: ReleaseFile) -> dict[str, Any]:
    return {"name": f.name, "sha256": f.sha256, "size": f.size}


def _conflict(dist: Distribution, recorded: ReleaseRow) -> ReleaseConflict:
    """Say what differs between the recorded release and *dist*."""
    notes = {notes_file_name(lang, fmt) for lang in ("en", "ru") for fmt in FORMATS}
    before = {f["name"]: f["sha256"] for f in recorded.manifest["files"] if f["name"] not in notes}
    now = {f.name: f.sha256 for f in dist.files}
    differences = [f"{n} is new" for n in sorted(set(now) - set(before))]
    differences += [f"{n} is gone" for n in sorted(set(before) - set(now))]
    differences += [f"{n} changed" for n in sorted(set(now) & set(before)) if now[n] != before[n]]
    entries_before = {c["name"]: c["sha256"] for c in recorded.manifest.get("changes", [])}
    entries_now = {c.name: c.sha256 for c in dist.changes}
    if entries_before != entries_now:
        differences.append("the change entries differ")
    what = "; ".join(differences) or "the files differ"
    return ReleaseConflict(
        f"{dist.product} {dist.version} was already recorded for publishing "
        f"({recorded.status}, {recorded.created_at:%Y-%m-%d %H:%M} UTC) with other contents: "
        f"{what}. A version is immutable once publishing starts: publish these files under a "
        f"new build number, or restore the original files to finish the earlier publish"
    )


def _fixed(app: App, product: str, version: str) -> list[FixedRequest]:
    fixed = []
    for waiting in ReleaseStore(app.store).waiting_for(product, version):
        request = app.store.request(waiting.request_key)
        if request is not None:
            fixed.append(FixedRequest(request.key, request.summary))
    return fixed


def _plan(app: App, dist: Distribution, new_generation: bool) -> dict[str, Any]:
    """The manifest to record: files (with the rendered notes), change entries, notes."""
    released = app.clock.now().date()
    notes = render_notes(
        app.settings.templates_dir,
        product=dist.product,
        version=dist.version,
        released=released,
        changes=dist.changes,
        fixed=_fixed(app, dist.product, str(dist.version)),
        new_generation=new_generation,
    )
    files = [_file_dict(f) for f in dist.files]
    texts = {}
    for (language, fmt), text in notes.items():
        name = notes_file_name(language, fmt)
        data = text.encode()
        texts[name] = text
        files.append({"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    return {
        "released": released.isoformat(),
        "files": sorted(files, key=lambda f: f["name"]),
        "changes": [
            {
                "name": c.name,
                "sha256": c.sha256,
                "kind": c.kind.value,
                "title": dict(c.title),
                "requests": list(c.requests),
            }
            for c in dist.changes
        ],
        "notes": texts,
    }


def _write_if_changed(path: Path, data: bytes) -> None:
    if not (path.is_file() and path.read_bytes() == data):
        temp = path.with_name(f".{path.name}.partial")
        temp.write_bytes(data)
        temp.replace(path)


def _materialise(dist: Distribution, manifest: Mapping[str, Any]) -> tuple[ReleaseFile, ...]:
    """Write the notes and ``SHA256SUMS`` into ``DIST_DIR``; the files to hand to publishers."""
    by_name = {f.name: f for f in dist.files}
    files: list[ReleaseFile] = []
    for entry in manifest["files"]:
        name = entry["name"]
        if name in manifest["notes"]:
            path = dist.dist_dir / name
            _write_if_changed(path, manifest["notes"][name].encode())
            files.append(ReleaseFile(name, entry["sha256"], entry["size"], path))
        else:
            files.append(by_name[name])
    _write_if_changed(dist.dist_dir / SUMS, sha256sums(tuple(files)))
    return tuple(files)


def publish_release(
    app: App,
    dist_dir: Path,
    *,
    product: str,
    version: str,
    changes_dir: Path | None = None,
    dry_run: bool = False,
) -> PublishReport:
    """Publish ``DIST_DIR`` as *product* *version*, or resume the earlier publish of it.

    :raises ReleaseRefused: the release breaks a rule (every problem is listed).
    :raises ReleaseConflict: the version was recorded before with other files or entries.
    """
    parsed = Version.parse(version)
    check_product(product)
    store, releases = app.store, ReleaseStore(app.store)
    dist = read_distribution(dist_dir, product, parsed, changes_dir)
    recorded = releases.release(product, str(parsed))
    if recorded is not None and recorded.identity != dist.identity:
        raise _conflict(dist, recorded)
    history = releases.releases(product)
    if recorded is None:
        problems = check_rules(dist, history)
        if problems:
            raise ReleaseRefused(problems)
    publishers = app.publishers()
    if not publishers:
        raise PixbridgeError(
            "no release publisher is configured: list one in [pipeline] publishers "
            '(e.g. publishers = ["directory"]) and set up its [adapters.<name>] table'
        )
    report = PublishReport(
        product, str(parsed), dist.identity, "dry-run", resumed=recorded is not None
    )
    if recorded is None:
        new_generation = parsed.generation > max((r.generation for r in history), default=0)
        manifest = _plan(app, dist, new_generation)
    else:
        manifest = dict(recorded.manifest)
    report.files = list(manifest["files"])
    report.notes = dict(manifest["notes"])
    if dry_run:
        done = {s.publisher: s for s in releases.steps(recorded.id)} if recorded else {}
        report.steps = [
            {
                "publisher": p.name,
                "state": done[p.name].state if p.name in done else "planned",
                "url": done[p.name].url if p.name in done else None,
            }
            for p in publishers
        ]
        return report
    now = app.clock.now()
    if recorded is None:
        try:
            with store.db.transaction():
                release_id = releases.insert_release(
                    product=product, generation=parsed.generation, build=parsed.build,
                    identity=dist.identity, manifest=manifest, at=now,
                )  # fmt: skip
                store.log("release_recorded", at=now, product=product, version=str(parsed))
        except IntegrityError:
            raise ReleaseConflict(
                f"{product} {parsed} (or build {parsed.build}) was recorded by another run "
                "meanwhile; run the command again"
            ) from None
        recorded = releases.release(product, str(parsed))
        assert recorded is not None and recorded.id == release_id
    with store.db.transaction():
        for publisher in publishers:
            releases.add_step(recorded.id, publisher.name, now)
    files = _materialise(dist, manifest)
    release_manifest = ReleaseManifest(
        product, str(parsed), files, notes=manifest["notes"].get(notes_file_name("en", "md"), "")
    )
    for publisher in publishers:
        step = next(s for s in releases.steps(recorded.id) if s.publisher == publisher.name)
        if step.state == "done":
            continue
        try:
            published = publisher.publish(release_manifest)
        except AdapterError as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("publishing %s %s with %s failed: %s", product, parsed, publisher.name, exc)
            with store.db.transaction():
                releases.step_failed(recorded.id, publisher.name, error, app.clock.now())
            continue
        except Exception as exc:
            with store.db.transaction():
                releases.step_failed(
                    recorded.id, publisher.name, f"{type(exc).__name__}: {exc}", app.clock.now()
                )
            raise
        with store.db.transaction():
            releases.step_done(
                recorded.id, publisher.name, published.url, published.details, app.clock.now()
            )
            store.log(
                "release_published", at=app.clock.now(), actor=publisher.name, product=product,
                version=str(parsed), url=published.url,
            )  # fmt: skip
    steps = releases.steps(recorded.id)
    configured = {p.name for p in publishers}
    report.steps = [
        {
            "publisher": s.publisher,
            "state": s.state if s.publisher in configured else f"{s.state} (not configured)",
            "url": s.url,
            "attempts": s.attempts,
            "error": s.last_error,
        }
        for s in steps
    ]
    if all(s.state == "done" for s in steps if s.publisher in configured):
        with store.db.transaction():
            releases.mark_published(recorded.id, app.clock.now())
        recorded = releases.release(product, str(parsed))
        assert recorded is not None
        result = notify_waiting(app, recorded)
        report.notified = list(result.queued)
        report.tracker_pending = list(result.tracker_pending)
    report.status = recorded.status
    return report
