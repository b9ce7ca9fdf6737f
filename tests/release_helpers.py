"""Building distribution folders, change entries and test publishers for the release tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from pixbridge import hookimpl
from pixbridge.builtins.directory_publisher import DirectoryPublisher
from pixbridge.errors import TransientAdapterError
from pixbridge.models import PublishedRelease, ReleaseManifest
from pixbridge.registry import AdapterRegistry

BASE_URL = "https://downloads.pix.example/releases"
DOCS = ("CHANGES.md", "COMPATIBILITY.md", "INSTALL.md")


def entry(kind: str = "fixed", en: str = "Export fixed", ru: str = "Экспорт исправлен",
          requests: tuple[str, ...] = ()) -> str:  # fmt: skip
    """The TOML text of a change entry."""
    # JSON strings are TOML basic strings (escapes included).
    keys = ", ".join(json.dumps(k) for k in requests)
    return (
        f"kind = {json.dumps(kind)}\nrequests = [{keys}]\n"
        f"[title]\nen = {json.dumps(en, ensure_ascii=False)}\nru = {json.dumps(ru, ensure_ascii=False)}\n"
    )


def make_dist(
    root: Path,
    version: str,
    *,
    installers: dict[str, bytes] | None = None,
    changes: dict[str, str] | None = None,
    docs: tuple[str, ...] = DOCS,
) -> Path:
    """``root/<version>/dist`` with installers, change entries in ``dist/changes`` and docs."""
    dist = root / version / "dist"
    dist.mkdir(parents=True, exist_ok=True)
    files = installers if installers is not None else {
        f"pix-setup-{version}.exe": b"MZ installer " + version.encode(),
        f"pix-{version}.tar.gz": b"\x1f\x8b archive " + version.encode(),
    }  # fmt: skip
    for name, data in files.items():
        (dist / name).write_bytes(data)
    for name, text in (changes if changes is not None else {"fix.toml": entry()}).items():
        (dist / "changes").mkdir(exist_ok=True)
        (dist / "changes" / name).write_text(text, encoding="utf-8")
    for name in docs:
        (dist / name).write_text(f"{name} for {version}\n", encoding="utf-8")
    return dist


class Flaky:
    """A plugin with a publisher that fails with a transient error a set number of times."""

    def __init__(self, failures: int = 1, *, internal: bool = False) -> None:
        outer = self
        self.failures = failures
        self.calls = 0

        class FlakyPublisher(DirectoryPublisher):
            name: ClassVar[str] = "flaky"

            def publish(self, manifest: ReleaseManifest) -> PublishedRelease:
                outer.calls += 1
                if outer.failures > 0:
                    outer.failures -= 1
                    raise TransientAdapterError("the file share is not reachable")
                release = super().publish(manifest)
                if not internal:
                    return release
                details = {**release.details, "internal": "true"}
                return PublishedRelease(
                    "flaky", release.product, release.version, release.url, details
                )

        self.cls = FlakyPublisher

    @hookimpl
    def register_adapters(self, registry: AdapterRegistry) -> None:
        """Register the flaky publisher."""
        registry.add(self.cls)
