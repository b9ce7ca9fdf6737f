"""The default release publisher: a directory tree served as it is (file share, web server root).

Layout under ``root``::

    <product>/LATEST                 the highest published version, e.g. ``5.12``
    <product>/<version>/<file>...    the distribution files
    <product>/<version>/SHA256SUMS   ``sha256sum`` format
    <product>/<version>/manifest.json  written last: its presence means "published"

Every file is written under a temporary name beside its target, checked, then renamed, so an
interrupted publish leaves nothing half-written under a real name and publishing the same manifest
again finishes the job. Once ``manifest.json`` exists the version is immutable: another manifest
under it is refused and a new build number is needed. Until then (an unfinished publish) a
corrected manifest may take the version over and files it no longer lists are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from pydantic import field_validator

from pixbridge.adapters import AdapterContext, AdapterSettings, ReleasePublisher
from pixbridge.errors import PermanentAdapterError
from pixbridge.markers import hookimpl
from pixbridge.models import PublishedRelease, ReleaseFile, ReleaseManifest
from pixbridge.registry import AdapterRegistry

__all__ = ["DirectoryPublisher", "parse_version"]

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
LATEST = "LATEST"
_PARTIAL = ".partial"
_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
# Product and file names become path components and URL segments: no separators, no leading dot.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._+()-]{0,127}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def parse_version(version: str) -> tuple[int, int]:
    """``"5.12"`` -> ``(5, 12)``; :class:`PermanentAdapterError` unless ``generation.build``."""
    match = _VERSION.fullmatch(version)
    if not match:
        raise PermanentAdapterError(
            f"version {version!r} is not generation.build (two whole numbers without leading "
            "zeros, e.g. 5.12)"
        )
    return int(match[1]), int(match[2])


def _check_name(what: str, name: str) -> None:
    if not _SAFE_NAME.fullmatch(name) or name.endswith((" ", ".")) or ".." in name:
        raise PermanentAdapterError(
            f"{what} {name!r} is not a safe name: use letters, digits, spaces and . _ + ( ) -, "
            "starting with a letter or digit"
        )


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _fsync_dir(directory: Path) -> None:
    if os.name == "posix":  # directories cannot be opened for fsync on Windows
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_atomically(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}{_PARTIAL}")
    with temp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)
    _fsync_dir(path.parent)


def _copy_verified(item: ReleaseFile, target: Path) -> None:
    """Copy *item* to *target* via a temporary file, refusing it unless size and hash match."""
    temp = target.with_name(f".{target.name}{_PARTIAL}")
    digest = hashlib.sha256()
    size = 0
    try:
        with item.path.open("rb") as src, temp.open("wb") as dst:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise PermanentAdapterError(f"cannot copy {item.name} from {item.path}: {exc}") from exc
    if size != item.size or digest.hexdigest() != item.sha256.lower():
        temp.unlink(missing_ok=True)
        raise PermanentAdapterError(
            f"{item.path} does not match the manifest entry {item.name!r}: it has {size} bytes "
            f"and sha256 {digest.hexdigest()}, the manifest says {item.size} bytes and sha256 "
            f"{item.sha256}; rebuild the manifest from the file"
        )
    os.replace(temp, target)


class DirectoryPublisher(ReleasePublisher):
    """Publishes releases into a local directory tree with checksums and a LATEST pointer."""

    name: ClassVar[str] = "directory"

    class Settings(AdapterSettings):
        """``[adapters.directory]`` settings."""

        root: Path = Path("releases")
        """Where releases go; a relative path is taken inside the data directory."""
        base_url: str | None = None
        """The URL ``root`` is served at (http, https or file); default: ``root`` as a file URL."""

        @field_validator("base_url")
        @classmethod
        def _served_url(cls, value: str | None) -> str | None:
            if value is None:
                return None
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https", "file"):
                raise ValueError(f"base_url {value!r} must start with http://, https:// or file://")
            if parts.scheme != "file" and not parts.netloc:
                raise ValueError(f"base_url {value!r} has no host name")
            return value.rstrip("/")

    settings: DirectoryPublisher.Settings

    def __init__(self, settings: DirectoryPublisher.Settings, context: AdapterContext) -> None:
        super().__init__(settings, context)
        root = self.settings.root
        self.root = root if root.is_absolute() else self.context.data_dir / root
        """The directory releases are published in."""
        self.base_url = self.settings.base_url or self.root.absolute().as_uri()
        """The URL :attr:`root` is served at, without a trailing slash."""

    def open(self) -> None:
        """Create the root directory if needed."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise PermanentAdapterError(
                f"cannot create the release directory {self.root}: {exc}; "
                "check [adapters.directory] root"
            ) from exc

    def check(self) -> list[str]:
        """Report a missing or unwritable root directory."""
        if not self.root.is_dir():
            return [f"release directory {self.root} does not exist"]
        if not os.access(self.root, os.W_OK):
            return [f"release directory {self.root} is not writable"]
        return []

    def publish(self, manifest: ReleaseManifest) -> PublishedRelease:
        """Publish *manifest*, or finish an earlier publish of the identical manifest."""
        wanted = self._validate(manifest)
        folder = self.root / manifest.product / manifest.version
        folder.mkdir(parents=True, exist_ok=True)
        published = self._read_manifest(folder)
        if published is not None and published != wanted:
            raise PermanentAdapterError(
                f"{manifest.product} {manifest.version} is already published with other "
                f"{self._difference(published, wanted)}; a published version is immutable, so "
                "publish these files under a new build number"
            )
        names = {item.name for item in manifest.files}
        for entry in folder.iterdir():
            if entry.is_file() and (
                entry.name.endswith(_PARTIAL)
                or (published is None and entry.name not in names | {MANIFEST, SUMS})
            ):
                entry.unlink()  # leftovers of an interrupted or abandoned attempt
        for item in manifest.files:
            target = folder / item.name
            if not (target.is_file() and target.stat().st_size == item.size
                    and _sha256(target) == item.sha256.lower()):  # fmt: skip
                _copy_verified(item, target)
        _fsync_dir(folder)
        sums = "".join(f"{f['sha256']}  {f['name']}\n" for f in wanted["files"]).encode()
        if not (folder / SUMS).is_file() or (folder / SUMS).read_bytes() != sums:
            _write_atomically(folder / SUMS, sums)
        if published is None:
            text = json.dumps(wanted, indent=2, ensure_ascii=False) + "\n"
            _write_atomically(folder / MANIFEST, text.encode())
        self._advance_latest(manifest.product, manifest.version)
        return self._release(manifest.product, manifest.version, [i.name for i in manifest.files])

    def find(self, product: str, version: str) -> PublishedRelease | None:
        """The published release, or ``None`` (also for names that could never be published)."""
        try:
            _check_name("product", product)
            parse_version(version)
        except PermanentAdapterError:
            return None
        published = self._read_manifest(self.root / product / version)
        if published is None:
            return None
        return self._release(product, version, [f["name"] for f in published["files"]])

    def latest(self, product: str) -> str | None:
        """The version ``<product>/LATEST`` points at, if any."""
        try:
            text = (self.root / product / LATEST).read_text(encoding="utf-8").strip()
            parse_version(text)
        except (OSError, UnicodeDecodeError, PermanentAdapterError):
            return None
        return text

    def _validate(self, manifest: ReleaseManifest) -> dict[str, Any]:
        """Check names, version and checksums; return what ``manifest.json`` holds."""
        _check_name("product", manifest.product)
        parse_version(manifest.version)
        if not manifest.files:
            raise PermanentAdapterError("the manifest lists no files; a release needs at least one")
        seen: set[str] = set()
        for item in manifest.files:
            _check_name("file name", item.name)
            if item.name in (MANIFEST, SUMS) or item.name in seen:
                raise PermanentAdapterError(f"file name {item.name!r} is reserved or repeated")
            if not _SHA256.fullmatch(item.sha256.lower()) or item.size < 0:
                raise PermanentAdapterError(f"{item.name}: sha256 must be 64 hex digits, size >= 0")
            seen.add(item.name)
        files = [
            {"name": i.name, "sha256": i.sha256.lower(), "size": i.size} for i in manifest.files
        ]
        return {
            "product": manifest.product,
            "version": manifest.version,
            "files": files,
            "notes": manifest.notes,
        }

    @staticmethod
    def _read_manifest(folder: Path) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise PermanentAdapterError(
                f"{folder / MANIFEST} is unreadable ({exc}); it is written atomically, so "
                "someone edited it: restore it from a backup"
            ) from exc
        return data

    @staticmethod
    def _difference(published: dict[str, Any], wanted: dict[str, Any]) -> str:
        if published.get("files") != wanted["files"]:
            return "files or checksums"
        return "notes"

    def _advance_latest(self, product: str, version: str) -> None:
        # Only forward: re-publishing or finishing an older build must not hide a newer one.
        current = self.latest(product)
        if current is None or parse_version(current) < parse_version(version):
            _write_atomically(self.root / product / LATEST, f"{version}\n".encode())

    def _release(self, product: str, version: str, names: list[str]) -> PublishedRelease:
        url = f"{self.base_url}/{quote(product)}/{quote(version)}/"
        return PublishedRelease(
            publisher=self.name,
            product=product,
            version=version,
            url=url,
            details={
                "manifest": url + MANIFEST,
                "sha256sums": url + SUMS,
                "files": "\n".join(url + quote(name) for name in names),
                "path": str(self.root / product / version),
            },
        )


@hookimpl
def register_adapters(registry: AdapterRegistry) -> None:
    """Register the directory publisher."""
    registry.add(DirectoryPublisher)
