"""The release rules, checked against what was published before. Pure: no side effects.

1. Build numbers are strictly increasing per product, across generations; a number is never
   reused, not even that of a release which never finished publishing.
2. The generation never goes backwards in build order.
3. A new generation (above every earlier one, or a product's first release) needs its three
   documents (:data:`~pixbridge.releases.distribution.DOCUMENTS`).
4. Every build has at least one change entry, and no entry ships in two builds.
"""

from __future__ import annotations

from collections.abc import Sequence

from pixbridge.releases.distribution import DOCUMENTS, Distribution
from pixbridge.releases.problems import Code, ReleaseProblem
from pixbridge.releases.state import ReleaseRow

__all__ = ["check_rules"]


def check_rules(dist: Distribution, history: Sequence[ReleaseRow]) -> list[ReleaseProblem]:
    """Every rule *dist* breaks, given the product's earlier releases *history*."""
    problems = list(dist.problems)
    version = dist.version
    if dist.dist_dir.is_dir() and not dist.installers:
        problems.append(
            ReleaseProblem(
                Code.DIST_EMPTY,
                f"{dist.dist_dir} holds no installer file; put the distribution's files there",
            )
        )
    latest = max(history, key=lambda r: r.build, default=None)
    if latest is not None and version.build <= latest.build:
        problems.append(
            ReleaseProblem(
                Code.BUILD_NOT_INCREASING,
                f"build {version.build} is not above {latest.build}, the highest build of "
                f"{dist.product} so far ({latest.version}); build numbers never repeat or restart, "
                f"so use {latest.build + 1} or higher",
            )
        )
    if latest is not None and version.generation < latest.generation:
        problems.append(
            ReleaseProblem(
                Code.GENERATION_REGRESSION,
                f"generation {version.generation} is below {latest.generation}, the generation "
                f"of the latest build {latest.version}; the generation never goes backwards",
            )
        )
    highest = max((r.generation for r in history), default=0)
    if version.generation > highest:
        for base, what in DOCUMENTS.items():
            if not dist.documents.get(base):
                problems.append(
                    ReleaseProblem(
                        Code.GENERATION_DOCS_MISSING,
                        f"generation {version.generation} of {dist.product} is new, so it needs "
                        f"{what}: add a non-empty {base}.md (or .txt, .pdf, .html, .docx, .odt, "
                        f".rtf) to {dist.dist_dir} or beside it in {dist.dist_dir.parent}",
                    )
                )
    bad_entries = any(p.code is Code.BAD_CHANGE_ENTRY for p in problems)
    if not dist.changes and not bad_entries:
        problems.append(
            ReleaseProblem(
                Code.NO_CHANGES,
                f"build {version} has no change entry; every build needs at least one: add a "
                f"file like {dist.changes_dir / 'my-change.toml'} with kind, [title] en and ru "
                "(see settings/changes/README.md)",
            )
        )
    shipped = {c["sha256"]: r.version for r in history for c in r.manifest.get("changes", [])}
    for entry in dist.changes:
        if entry.sha256 in shipped:
            problems.append(
                ReleaseProblem(
                    Code.CHANGE_ALREADY_RELEASED,
                    f"{dist.changes_dir / entry.name} already shipped in {dist.product} "
                    f"{shipped[entry.sha256]}; remove it from {dist.changes_dir}",
                )
            )
    return problems
