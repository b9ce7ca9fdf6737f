"""``jira-version``: the Jira project version as the release record of a build.

Publishing build ``4.13`` of a product (``[pipeline] publishers = ["directory", "jira-version"]``):

1. the files are checked against the manifest (size and SHA-256), before anything is written;
2. the version named by ``version_name`` (``4.13``, or e.g. ``"{product} {version}"``) is found
   in the project (listed once per publish, never kept between publishes), or created
   unreleased (it may exist already: ``pixbridge requests wait-build`` creates it to mark the
   waiting requests' fix version);
3. on Cloud, every configured link is attached as *related work*; Data Center has no related
   work, so the links are written into the description on both;
4. one ``PUT`` sets the description (links, the requests whose fix version it is, the manifest
   identity) and releases the version with today's date.

Releasing is the last step, so a released version carrying the manifest's identity means
"published". Publishing the identical manifest again changes nothing; another manifest under a
released version is refused (a new build number is needed); an unreleased version is simply
completed, whatever an earlier interrupted attempt left in it.

The returned URL is the version's page in Jira: for agents, not for customers, so the release
is marked ``internal`` and its URL is never mailed to customers.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pixbridge.adapters import AdapterContext, ReleasePublisher
from pixbridge.builtins.directory_publisher import parse_version
from pixbridge.errors import AdapterError, PermanentAdapterError
from pixbridge.models import PublishedRelease, ReleaseManifest
from pixbridge.observability.credentials import CredentialExpiry
from pixbridge_jira.settings import JiraConnection, build_template_sample
from pixbridge_jira.versions import JiraVersions

if TYPE_CHECKING:
    from pixbridge_jira.session import JiraSession

__all__ = ["IDENTITY", "JiraVersionPublisher", "JiraVersionSettings", "VersionLink"]

IDENTITY = "pixbridge-release: sha256:"
"""Prefix of the description line holding the manifest identity of a published version."""
_IDENTITY = re.compile(re.escape(IDENTITY) + r"([0-9a-f]{64})")
_FIXED_LISTED = 20
"""Fixed requests named in the description; the rest are counted (the version page lists all)."""


class VersionLink(BaseModel):
    """A link put on the version: the download page, a document."""

    model_config = ConfigDict(extra="forbid")

    title: str
    """Shown in the description and as the related work's title, e.g. ``Download``."""
    url: str
    """URL template with ``{product}`` and ``{version}``, e.g. ``https://dl.pix.example/{product}/{version}/``."""
    category: str = "Other"
    """Related-work category on Cloud (e.g. ``Other``, ``Documentation``)."""

    @field_validator("url")
    @classmethod
    def _template(cls, value: str) -> str:
        parts = urlsplit(build_template_sample("url", value))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"url {value!r} must be an http:// or https:// URL")
        return value

    def url_for(self, product: str, version: str) -> str:
        """The link of build *version* of *product* (the product name URL-quoted)."""
        return self.url.format(product=quote(product), version=quote(version))


class JiraVersionSettings(JiraConnection):
    """``[adapters.jira-version]``: the Jira connection (as ``[adapters.jira]``) and the links."""

    table: ClassVar[str] = "jira-version"
    links: list[VersionLink] = Field(default_factory=list)
    """Links put on every released version (description; related work on Cloud)."""
    description_limit: int = 2000
    """Longest description written; notes and the fixed list are cut to fit, never the identity."""
    notes_in_description: bool = True
    """Without links, the manifest's release notes go into the description (cut to fit)."""


class JiraVersionPublisher(ReleasePublisher):
    """Creates and releases the Jira version of each published build (the release record)."""

    name: ClassVar[str] = "jira-version"
    Settings: ClassVar[type[JiraVersionSettings]] = JiraVersionSettings
    secret_fields: ClassVar[tuple[str, ...]] = ("token", "password")

    def __init__(self, settings: JiraVersionSettings, context: AdapterContext) -> None:
        super().__init__(settings, context)
        self.settings: JiraVersionSettings = settings
        self._versions: JiraVersions | None = None
        self._versions_lock = threading.Lock()

    @property
    def versions(self) -> JiraVersions:
        """The project's versions through a retrying Jira session, created on first use."""
        if self._versions is None:
            with self._versions_lock:
                if self._versions is None:
                    # Imported here, not at module top: the jira client and requests cost
                    # every pixbridge command ~0.2 s at start-up, configured or not.
                    from pixbridge_jira.session import JiraSession

                    session = JiraSession(self.settings)
                    self._versions = JiraVersions(session, self.settings)
        return self._versions

    @property
    def session(self) -> JiraSession:
        """The retrying Jira session (created on first use)."""
        return self.versions.session

    def open(self) -> None:
        """Check the settings; Jira is first called on first use."""
        problems = self.settings.setup_problems()
        if problems:
            raise PermanentAdapterError("; ".join(problems))

    def credential_expiries(self) -> list[CredentialExpiry]:
        """The token's expiry (``token_expires``), if set."""
        return self.settings.credential_expiries()

    def check(self) -> list[str]:
        """``pixbridge doctor``: the project's versions can be read, and the account may
        create and release them (*Administer Projects*)."""
        problems = self.settings.setup_problems()
        if problems:
            return problems
        project = self.settings.project
        try:
            self.versions.all()
        except AdapterError as exc:
            return [f"cannot read the versions of Jira project {project}: {exc}"]
        try:
            if self.versions.may_administer():
                return []
        except AdapterError as exc:
            return [f"cannot ask Jira for the account's permissions in project {project}: {exc}"]
        return [
            f"adapters.{self.settings.table}: the account lacks the Administer Projects "
            f"permission in Jira project {project}, without which Jira refuses to create and "
            "release versions; grant it to the account in the project's permission scheme "
            "(e.g. through the Administrators role), or use an account that has it"
        ]

    # ------------------------------------------------------------------ publishing

    def publish(self, manifest: ReleaseManifest) -> PublishedRelease:
        """Create (if missing) and release the version of *manifest*; see the module docstring."""
        identity = manifest_identity(manifest)
        name = self.versions.name_for(manifest.product, manifest.version)
        # Listed once per publish and reused below; never kept between publishes, since an
        # admin may rename, release or delete versions in Jira meanwhile.
        version = self.versions.named(name)
        if version is not None and version.get("released"):
            recorded = _identity_of(version)
            if recorded == identity:
                return self._release(manifest.product, manifest.version, version)
            raise PermanentAdapterError(
                f"Jira version {name!r} of project {self.settings.project} is already released "
                + (
                    "with another manifest (other files or notes)"
                    if recorded
                    else "but not by pixbridge (its description has no pixbridge-release line)"
                )
                + "; a released build is immutable: publish these files under a new build "
                "number (or, if Jira was released by mistake, unrelease the version in Jira "
                "and publish again)"
            )
        description = self._description(manifest, version, identity)
        if version is None:
            version = self.versions.create(name, description)
        version_id = str(version["id"])
        if self.versions.cloud:
            for link in self.settings.links:
                url = link.url_for(manifest.product, manifest.version)
                self.versions.add_related_work(version_id, link.category, link.title, url)
        today = self.context.clock.now().date().isoformat()
        released = self.versions.update(
            version_id, {"description": description, "released": True, "releaseDate": today}
        )
        return self._release(manifest.product, manifest.version, released)

    def find(self, product: str, version: str) -> PublishedRelease | None:
        """The version released by pixbridge for *product* *version*, or ``None``."""
        try:
            parse_version(version)
            name = self.versions.name_for(product, version)
        except PermanentAdapterError:
            return None
        found = self.versions.named(name)
        if found is None or not found.get("released") or _identity_of(found) is None:
            return None
        return self._release(product, version, found)

    def fixed_requests(self, product: str, version: str) -> list[tuple[str, str]]:
        """``(key, summary)`` of the issues whose fix version is this build's version."""
        return self.versions.fixed_requests(self.versions.name_for(product, version))

    # ------------------------------------------------------------------ helpers

    def _description(
        self, manifest: ReleaseManifest, found: dict[str, Any] | None, identity: str
    ) -> str:
        """The description of the version; *found* is the version as listed (``None``:
        missing, so no issue can have it as fix version yet)."""
        product, version = manifest.product, manifest.version
        lines = [f"{product} {version}, published by pixbridge."]
        lines += [f"{link.title}: {link.url_for(product, version)}" for link in self.settings.links]
        fixed = self.versions.fixed_in(found) if found is not None else []
        if fixed:
            shown = "; ".join(f"{key} {summary}" for key, summary in fixed[:_FIXED_LISTED])
            more = len(fixed) - _FIXED_LISTED
            lines.append(f"Fixed requests: {shown}" + (f"; and {more} more" if more > 0 else ""))
        if not self.settings.links and self.settings.notes_in_description and manifest.notes:
            lines.append(manifest.notes.strip())
        tail = f"\n{IDENTITY}{identity}"
        room = max(0, self.settings.description_limit - len(tail))
        text = "\n".join(lines)
        if len(text) > room:
            text = text[: max(0, room - 1)].rstrip() + "…"
        return text + tail

    def _release(self, product: str, version: str, found: dict[str, Any]) -> PublishedRelease:
        version_id = str(found["id"])
        details = {
            "internal": "true",
            "version_id": version_id,
            "version_name": str(found.get("name", "")),
            "release_date": str(found.get("releaseDate", "")),
        }
        return PublishedRelease(
            publisher=self.name,
            product=product,
            version=version,
            url=self.versions.browse_url(version_id),
            details=details,
        )


def manifest_identity(manifest: ReleaseManifest) -> str:
    """SHA-256 of the manifest (product, version, files, notes), after checking every file.

    :raises PermanentAdapterError: a bad version, no files, or a file whose size or SHA-256
        differs from its manifest entry (nothing is written to Jira then).
    """
    parse_version(manifest.version)
    if not manifest.product.strip() or any(ord(c) < 32 for c in manifest.product):
        raise PermanentAdapterError(
            f"product {manifest.product!r} is empty or has control characters"
        )
    if not manifest.files:
        raise PermanentAdapterError("the manifest lists no files; a release needs at least one")
    for item in manifest.files:
        try:
            with item.path.open("rb") as f:
                digest = hashlib.file_digest(f, "sha256").hexdigest()
            size = item.path.stat().st_size
        except OSError as exc:
            raise PermanentAdapterError(f"cannot read {item.name} at {item.path}: {exc}") from exc
        if size != item.size or digest != item.sha256.lower():
            raise PermanentAdapterError(
                f"{item.path} does not match the manifest entry {item.name!r}: it has {size} "
                f"bytes and sha256 {digest}, the manifest says {item.size} bytes and sha256 "
                f"{item.sha256}; rebuild the manifest from the file"
            )
    files = sorted([f.name, f.sha256.lower(), f.size] for f in manifest.files)
    canonical = {
        "product": manifest.product,
        "version": manifest.version,
        "files": files,
        "notes": manifest.notes,
    }
    data = json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(data).hexdigest()


def _identity_of(version: dict[str, Any]) -> str | None:
    match = _IDENTITY.search(str(version.get("description") or ""))
    return match.group(1) if match else None
