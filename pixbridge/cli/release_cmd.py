"""``pixbridge release publish|list`` and the agent's ``pixbridge requests wait-build``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from pixbridge.cli.main import CliState, echo_json
from pixbridge.errors import PixbridgeError
from pixbridge.releases import ReleaseRefused, mark_waiting, publish_release
from pixbridge.releases.state import ReleaseStore

__all__ = ["release", "wait_build"]

INCOMPLETE_EXIT = 2
"""Exit status of a publish that recorded the release but could not finish every step."""


@click.group("release")
def release() -> None:
    """Publish distributions and see what was published where."""


def _print_report(report: dict[str, Any]) -> None:
    head = "would publish" if report["status"] == "dry-run" else report["status"]
    resumed = " (resumed)" if report["resumed"] else ""
    click.echo(f"{report['product']} {report['version']}: {head}{resumed}")
    for f in report["files"]:
        click.echo(f"  {f['sha256']}  {f['name']} ({f['size']} bytes)")
    for step in report["steps"]:
        where = step.get("url") or step.get("error") or ""
        click.echo(f"  {step['publisher']:<16} {step['state']:<10} {where}")
    if report["notified"]:
        click.echo(f"  mailed the customers of {', '.join(report['notified'])}")
    if report["tracker_pending"]:
        click.echo(f"  tracker still to complete: {', '.join(report['tracker_pending'])}")


@release.command("publish")
@click.argument("dist_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--product", required=True, help="The product's name, e.g. 'PIX Task Mining'.")
@click.option("--version", "version", required=True, help="generation.build, e.g. 4.13.")
@click.option(
    "--changes",
    "changes_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of change entries (*.toml). Default: DIST_DIR/changes.",
)
@click.option("--dry-run", is_flag=True, help="Check the rules and show the plan; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def publish(
    state: CliState,
    dist_dir: Path,
    product: str,
    version: str,
    changes_dir: Path | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Publish DIST_DIR as PRODUCT VERSION with every configured publisher.

    Running it again with the identical files resumes what did not finish (a publisher that
    failed, customers not yet told) and does nothing else.
    """
    app = state.app()
    try:
        report = publish_release(
            app, dist_dir, product=product, version=version, changes_dir=changes_dir,
            dry_run=dry_run,
        )  # fmt: skip
    except ReleaseRefused as exc:
        if as_json:
            echo_json(
                {
                    "status": "refused",
                    "problems": [
                        {"code": p.code.value, "message": p.message} for p in exc.problems
                    ],
                }
            )
            sys.exit(1)
        raise click.ClickException(str(exc)) from None
    except PixbridgeError as exc:
        raise click.ClickException(str(exc)) from None
    data = report.as_dict()
    if as_json:
        echo_json(data)
    else:
        _print_report(data)
    if report.status == "publishing":
        click.echo(
            f"Error: publishing {product} {version} is not complete (see the failed steps); "
            "run the same command again to resume",
            err=True,
        )
        sys.exit(INCOMPLETE_EXIT)


@release.command("list")
@click.option("--product", default=None, help="Only this product.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_releases(state: CliState, product: str | None, as_json: bool) -> None:
    """Releases in build order, with each publisher's URL."""
    releases = ReleaseStore(state.app().store)
    rows: list[dict[str, Any]] = []
    for row in releases.releases(product):
        rows.append(
            {
                "product": row.product,
                "version": row.version,
                "status": row.status,
                "recorded_at": row.created_at.isoformat(),
                "published_at": row.published_at.isoformat() if row.published_at else None,
                "files": len(row.manifest["files"]),
                "published": [
                    {"publisher": s.publisher, "state": s.state, "url": s.url, **s.details}
                    for s in releases.steps(row.id)
                ],
                "notified": sorted(releases.notified(row.id)),
            }
        )
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['product']} {r['version']}  [{r['status']}]  {r['published_at'] or '-'}")
        for step in r["published"]:
            click.echo(f"  {step['publisher']:<16} {step['state']:<8} {step['url'] or '-'}")
        if r["notified"]:
            click.echo(f"  customers told: {', '.join(r['notified'])}")


@click.command("wait-build")
@click.argument("key")
@click.option("--product", required=True, help="The product of the build.")
@click.option("--version", "version", required=True, help="The build, generation.build.")
@click.option("--author", default="agent", show_default=True, help="Who marks it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def wait_build(
    state: CliState, key: str, product: str, version: str, author: str, as_json: bool
) -> None:
    """Mark request KEY as answered by a build: its customer is mailed when it is published."""
    try:
        result = mark_waiting(state.app(), key, product, version, by=author)
    except PixbridgeError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        echo_json(result.as_dict())
        return
    click.echo(f"{key} waits for {product} {result.version} ({result.tracker_note})")
    if result.notified:
        click.echo(f"{product} {result.version} is already published: the customer was told")
