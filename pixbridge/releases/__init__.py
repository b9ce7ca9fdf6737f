"""Releases: the ``generation.build`` version model and its rules, change entries, release notes,
the publish workflow with its recorded state, and the customers waiting for a build.

Modules, in the order a release meets them:

- :mod:`~pixbridge.releases.version`: ``Version`` (``generation.build``), product names;
- :mod:`~pixbridge.releases.changes`: change entries, one TOML file per change;
- :mod:`~pixbridge.releases.distribution`: the files of ``DIST_DIR`` with SHA-256, the documents;
- :mod:`~pixbridge.releases.rules`: the rules, checked against earlier releases;
- :mod:`~pixbridge.releases.notes`: release notes (Markdown, text; English, Russian);
- :mod:`~pixbridge.releases.workflow`: ``publish_release``, idempotent and resumable;
- :mod:`~pixbridge.releases.waiting`: requests waiting for a build, and the mail when it is out;
- :mod:`~pixbridge.releases.state`: the release tables of the state store.

Publishers are adapters (:class:`~pixbridge.adapters.ReleasePublisher`); the workflow knows none
of them by name.
"""

from __future__ import annotations

from pixbridge.releases.problems import Code, ReleaseConflict, ReleaseProblem, ReleaseRefused
from pixbridge.releases.version import Version
from pixbridge.releases.waiting import mark_waiting, notify_waiting
from pixbridge.releases.workflow import PublishReport, publish_release

__all__ = [
    "Code",
    "PublishReport",
    "ReleaseConflict",
    "ReleaseProblem",
    "ReleaseRefused",
    "Version",
    "mark_waiting",
    "notify_waiting",
    "publish_release",
]
