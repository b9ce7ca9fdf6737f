"""The directory publisher: contract, layout, checksums, LATEST pointer, resuming."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from pixbridge.adapters import AdapterContext
from pixbridge.builtins.directory_publisher import DirectoryPublisher
from pixbridge.errors import PermanentAdapterError
from pixbridge.models import ReleaseFile, ReleaseManifest
from pixbridge.registry import AdapterRegistry
from pixbridge.testing.contracts.publisher import ReleasePublisherContract, make_release_file

PRODUCT = "PIX Task Mining"


def make(context: AdapterContext, **settings: object) -> DirectoryPublisher:
    adapter = DirectoryPublisher(DirectoryPublisher.Settings(**settings), context)
    adapter.open()
    return adapter


class TestDirectoryContract(ReleasePublisherContract):
    @pytest.fixture
    def adapter(self, adapter_context: AdapterContext) -> DirectoryPublisher:
        return make(adapter_context)


@pytest.fixture
def publisher(adapter_context: AdapterContext) -> DirectoryPublisher:
    return make(adapter_context)


def release(tmp_path: Path, version: str, flavour: str = "") -> ReleaseManifest:
    dist = tmp_path / "dist" / version / flavour
    files = (
        make_release_file(
            dist, f"PIXTaskMining-{version}-setup.exe", f"MZ {version}{flavour}".encode()
        ),
        make_release_file(dist, f"PIXTaskMining {version} notes.pdf", b"%PDF-1.7 " * 100),
    )
    return ReleaseManifest(PRODUCT, version, files, notes=f"Build {version}.\nFixes PIX-12.")


def test_registered_as_plugin() -> None:
    from pixbridge.builtins import directory_publisher

    registry = AdapterRegistry()
    directory_publisher.register_adapters(registry)
    assert registry.all()[0].cls is DirectoryPublisher


def test_layout_manifest_and_url(publisher: DirectoryPublisher, tmp_path: Path) -> None:
    manifest = release(tmp_path, "5.12")
    result = publisher.publish(manifest)
    folder = publisher.root / PRODUCT / "5.12"
    assert publisher.root == publisher.context.data_dir / "releases"
    assert result.publisher == "directory"
    assert result.url == f"{publisher.root.as_uri()}/PIX%20Task%20Mining/5.12/"
    assert result.details["manifest"] == result.url + "manifest.json"
    assert result.details["files"].splitlines()[0] == result.url + "PIXTaskMining-5.12-setup.exe"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*(f.name for f in manifest.files), "SHA256SUMS", "manifest.json"]
    )
    for item in manifest.files:
        assert (folder / item.name).read_bytes() == item.path.read_bytes()
    data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert data == {
        "product": PRODUCT,
        "version": "5.12",
        "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in manifest.files],
        "notes": manifest.notes,
    }
    assert publisher.find(PRODUCT, "5.12") == result


def test_sha256sums_format(publisher: DirectoryPublisher, tmp_path: Path) -> None:
    publisher.publish(release(tmp_path, "5.12"))
    folder = publisher.root / PRODUCT / "5.12"
    lines = (folder / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    for line in lines:
        digest, name = line.split("  ", 1)  # sha256sum's text-mode separator
        assert digest == hashlib.sha256((folder / name).read_bytes()).hexdigest()


def test_latest_only_moves_forward(publisher: DirectoryPublisher, tmp_path: Path) -> None:
    latest = publisher.root / PRODUCT / "LATEST"
    publisher.publish(release(tmp_path, "5.9"))
    assert latest.read_text(encoding="utf-8") == "5.9\n"
    publisher.publish(release(tmp_path, "5.10"))  # 10 > 9 as numbers, though not as text
    assert latest.read_text(encoding="utf-8") == "5.10\n"
    publisher.publish(release(tmp_path, "4.20"))  # a maintenance build of an older generation
    publisher.publish(release(tmp_path, "5.9"))  # re-publishing an older build
    assert publisher.latest(PRODUCT) == "5.10"
    publisher.publish(release(tmp_path, "6.1"))
    assert publisher.latest(PRODUCT) == "6.1"


def test_republish_changes_nothing(publisher: DirectoryPublisher, tmp_path: Path) -> None:
    manifest = release(tmp_path, "5.12")
    publisher.publish(manifest)
    folder = publisher.root / PRODUCT / "5.12"
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    publisher.publish(manifest)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


def test_republish_needs_no_source_once_published(
    publisher: DirectoryPublisher, tmp_path: Path
) -> None:
    manifest = release(tmp_path, "5.12")
    first = publisher.publish(manifest)
    for item in manifest.files:
        item.path.unlink()
    assert publisher.publish(manifest) == first


def test_resume_after_lost_file_and_leftover_temp(
    publisher: DirectoryPublisher, tmp_path: Path
) -> None:
    manifest = release(tmp_path, "5.12")
    publisher.publish(manifest)
    folder = publisher.root / PRODUCT / "5.12"
    lost = folder / manifest.files[0].name
    lost.unlink()
    (folder / "SHA256SUMS").unlink()
    (publisher.root / PRODUCT / "LATEST").unlink()
    (folder / f".{manifest.files[1].name}.partial").write_bytes(b"half a copy")
    publisher.publish(manifest)
    assert lost.read_bytes() == manifest.files[0].path.read_bytes()
    assert (folder / "SHA256SUMS").is_file()
    assert publisher.latest(PRODUCT) == "5.12"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_interrupted_publish_is_not_published_and_resumes(
    publisher: DirectoryPublisher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = release(tmp_path, "5.12")
    from pixbridge.builtins import directory_publisher as module

    real = module._copy_verified
    calls = 0

    def crash_on_second(item: ReleaseFile, target: Path) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            target.with_name(f".{target.name}.partial").write_bytes(b"torn")
            raise KeyboardInterrupt  # the process dies mid-copy
        real(item, target)

    monkeypatch.setattr(module, "_copy_verified", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        publisher.publish(manifest)
    assert publisher.find(PRODUCT, "5.12") is None
    assert publisher.latest(PRODUCT) is None
    monkeypatch.setattr(module, "_copy_verified", real)
    result = publisher.publish(manifest)
    assert publisher.find(PRODUCT, "5.12") == result
    folder = publisher.root / PRODUCT / "5.12"
    assert not [p for p in folder.iterdir() if p.name.endswith(".partial")]


def test_unfinished_publish_may_be_corrected(publisher: DirectoryPublisher, tmp_path: Path) -> None:
    good = release(tmp_path, "5.12")
    stale = make_release_file(tmp_path / "old", "stale.zip", b"old")
    broken_file = make_release_file(tmp_path / "old", "broken.exe", b"x")
    broken = ReleaseManifest(
        PRODUCT, "5.12", (stale, ReleaseFile("broken.exe", "0" * 64, 1, broken_file.path))
    )
    with pytest.raises(PermanentAdapterError, match="does not match the manifest"):
        publisher.publish(broken)
    publisher.publish(good)  # nothing was published, so the version is still free
    folder = publisher.root / PRODUCT / "5.12"
    assert not (folder / "stale.zip").exists()


def test_published_version_is_immutable(publisher: DirectoryPublisher, tmp_path: Path) -> None:
    publisher.publish(release(tmp_path, "5.12"))
    with pytest.raises(PermanentAdapterError, match=r"immutable.*new build number"):
        publisher.publish(release(tmp_path, "5.12", flavour="rebuilt"))
    same_files = release(tmp_path, "5.12")
    with pytest.raises(PermanentAdapterError, match="other notes"):
        publisher.publish(ReleaseManifest(PRODUCT, "5.12", same_files.files, "Other notes."))


@pytest.mark.parametrize("product", ["", "../etc", "a/b", ".hidden", "x" * 200, "ends.", "P\nX"])
def test_unsafe_product_refused(
    publisher: DirectoryPublisher, tmp_path: Path, product: str
) -> None:
    files = release(tmp_path, "5.12").files
    with pytest.raises(PermanentAdapterError, match="not a safe name"):
        publisher.publish(ReleaseManifest(product, "5.12", files))
    assert publisher.find(product, "5.12") is None


@pytest.mark.parametrize("name", ["../x.exe", "manifest.json", "SHA256SUMS", ".x"])
def test_unsafe_or_reserved_file_name_refused(
    publisher: DirectoryPublisher, tmp_path: Path, name: str
) -> None:
    item = make_release_file(tmp_path / "d", "x.exe", b"x")
    renamed = ReleaseFile(name, item.sha256, item.size, item.path)
    with pytest.raises(PermanentAdapterError):
        publisher.publish(ReleaseManifest(PRODUCT, "5.12", (renamed,)))


def test_leading_zeros_and_empty_release_refused(
    publisher: DirectoryPublisher, tmp_path: Path
) -> None:
    files = release(tmp_path, "5.12").files
    with pytest.raises(PermanentAdapterError, match="leading"):
        publisher.publish(ReleaseManifest(PRODUCT, "5.012", files))
    with pytest.raises(PermanentAdapterError, match="no files"):
        publisher.publish(ReleaseManifest(PRODUCT, "5.12", ()))


def test_missing_source_file(publisher: DirectoryPublisher, tmp_path: Path) -> None:
    item = make_release_file(tmp_path / "d", "x.exe", b"x")
    item.path.unlink()
    with pytest.raises(PermanentAdapterError, match=r"cannot copy x\.exe"):
        publisher.publish(ReleaseManifest(PRODUCT, "5.12", (item,)))


def test_settings(adapter_context: AdapterContext, tmp_path: Path) -> None:
    adapter = make(adapter_context, root=tmp_path / "www", base_url="https://dl.example.com/pix/")
    assert adapter.root == tmp_path / "www"
    result = adapter.publish(release(tmp_path, "5.12"))
    assert result.url == "https://dl.example.com/pix/PIX%20Task%20Mining/5.12/"
    for bad in ("ftp://dl.example.com", "https://", "dl.example.com/pix"):
        with pytest.raises(ValidationError, match="base_url"):
            DirectoryPublisher.Settings(base_url=bad)


def test_check(adapter_context: AdapterContext) -> None:
    adapter = DirectoryPublisher(DirectoryPublisher.Settings(), adapter_context)
    assert "does not exist" in adapter.check()[0]
    adapter.open()
    assert adapter.check() == []
