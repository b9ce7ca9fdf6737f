"""The contract every :class:`~pixbridge.adapters.ReleasePublisher` passes.

Subclass :class:`ReleasePublisherContract` in a module named ``test_*.py``, give it a class name
starting with ``Test``, and supply an ``adapter`` fixture that yields an opened publisher::

    class TestMyPublisher(ReleasePublisherContract):
        @pytest.fixture
        def adapter(self, adapter_context): ...

Distribution files are created under pytest's ``tmp_path``. Each test publishes its own build
number of :attr:`~ReleasePublisherContract.product`, so a backend shared between tests works too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pydantic import ValidationError

from pixbridge.adapters import AdapterKind, ReleasePublisher
from pixbridge.errors import PermanentAdapterError
from pixbridge.models import PublishedRelease, ReleaseFile, ReleaseManifest

__all__ = ["ReleasePublisherContract", "make_release_file"]


def make_release_file(folder: Path, name: str, content: bytes) -> ReleaseFile:
    """Write *content* to ``folder/name`` and describe it with its true size and checksum."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return ReleaseFile(name, hashlib.sha256(content).hexdigest(), len(content), path)


class ReleasePublisherContract:
    """Tests every release publisher must pass; subclass it and supply the ``adapter`` fixture."""

    product: str = "PIX-Contract"
    """The product the tests publish; override if the backend accepts only certain names."""
    generation: int = 7
    """The generation of the versions the tests publish (``<generation>.<build>``)."""

    @pytest.fixture
    def adapter(self) -> ReleasePublisher:
        """The opened publisher under test; the subclass must override this fixture."""
        pytest.fail(f"{type(self).__name__} must define an `adapter` fixture")

    def manifest(self, folder: Path, build: int, *, flavour: bytes = b"") -> ReleaseManifest:
        """A two-file release of build *build* whose file contents depend on *flavour*."""
        version = f"{self.generation}.{build}"
        files = (
            make_release_file(folder, f"pix-setup-{version}.exe", b"MZ installer " + flavour * 50),
            make_release_file(folder, f"pix-{version}.tar.gz", b"\x1f\x8b archive " + flavour),
        )
        return ReleaseManifest(self.product, version, files, notes=f"Build {build}.")

    def _assert_release(self, release: PublishedRelease, manifest: ReleaseManifest) -> None:
        # Messages spelt out: asserts in an installed package are not rewritten by pytest.
        assert isinstance(release, PublishedRelease), release
        assert (release.product, release.version) == (manifest.product, manifest.version), release
        assert isinstance(release.url, str) and release.url, release
        details = release.details.items()
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in details), release

    def test_identity(self, adapter: ReleasePublisher) -> None:
        """The adapter has a name and is of the release-publisher kind."""
        assert isinstance(adapter.name, str) and adapter.name
        assert adapter.kind is AdapterKind.RELEASE_PUBLISHER

    def test_publish_then_find(self, adapter: ReleasePublisher, tmp_path: Path) -> None:
        """A published release can be found, at the URL publishing returned."""
        manifest = self.manifest(tmp_path / "dist", 101)
        unpublished = adapter.find(manifest.product, manifest.version)
        assert unpublished is None, unpublished
        release = adapter.publish(manifest)
        self._assert_release(release, manifest)
        assert release.publisher == adapter.name, release
        found = adapter.find(manifest.product, manifest.version)
        assert found is not None, "find() does not return the release just published"
        self._assert_release(found, manifest)
        assert found.url == release.url, (found, release)
        other = adapter.find(manifest.product, f"{self.generation}.100")
        assert other is None, other

    def test_publish_identical_again(self, adapter: ReleasePublisher, tmp_path: Path) -> None:
        """Publishing the identical manifest again succeeds with the same URL."""
        manifest = self.manifest(tmp_path / "dist", 102)
        first = adapter.publish(manifest)
        second = adapter.publish(manifest)
        assert second.url == first.url, (first, second)
        found = adapter.find(manifest.product, manifest.version)
        assert found is not None and found.url == first.url, (first, found)

    def test_different_manifest_same_version_refused(
        self, adapter: ReleasePublisher, tmp_path: Path
    ) -> None:
        """A published version is immutable: other files under it are refused."""
        original = self.manifest(tmp_path / "one", 103, flavour=b"one")
        release = adapter.publish(original)
        other = self.manifest(tmp_path / "two", 103, flavour=b"two")
        with pytest.raises(PermanentAdapterError):
            adapter.publish(other)
        found = adapter.find(original.product, original.version)
        assert found is not None and found.url == release.url, (release, found)

    @pytest.mark.parametrize(
        "version", ["", "7", "7.1.2", "v7.1", "7.x", "7-1", "../7.1", "7.1\n", " 7.1", "-7.1"]
    )
    def test_bad_version_refused(
        self, adapter: ReleasePublisher, tmp_path: Path, version: str
    ) -> None:
        """A version that is not ``generation.build`` is refused."""
        good = self.manifest(tmp_path / "dist", 104)
        with pytest.raises(PermanentAdapterError):
            adapter.publish(ReleaseManifest(good.product, version, good.files, good.notes))

    @pytest.mark.parametrize("wrong", ["sha256", "size"])
    def test_file_not_matching_manifest_refused(
        self, adapter: ReleasePublisher, tmp_path: Path, wrong: str
    ) -> None:
        """A file whose checksum or size differs from the manifest is refused, nothing published."""
        good = self.manifest(tmp_path / "dist", 105)
        first = good.files[0]
        if wrong == "sha256":
            bad = ReleaseFile(
                first.name, hashlib.sha256(b"other").hexdigest(), first.size, first.path
            )
        else:
            bad = ReleaseFile(first.name, first.sha256, first.size + 1, first.path)
        manifest = ReleaseManifest(good.product, good.version, (bad, *good.files[1:]), good.notes)
        with pytest.raises(PermanentAdapterError):
            adapter.publish(manifest)
        found = adapter.find(manifest.product, manifest.version)
        assert found is None, f"a refused release was published: {found}"

    def test_settings_reject_unknown_keys(self, adapter: ReleasePublisher) -> None:
        """A misspelt setting is an error, not silently ignored."""
        with pytest.raises(ValidationError) as info:
            type(adapter).Settings.model_validate({"pixbridge_contract_no_such_key": 1})
        types = [error["type"] for error in info.value.errors()]
        assert "extra_forbidden" in types, types
