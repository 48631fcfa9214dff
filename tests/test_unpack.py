"""Unpacking real tar and zip files made in tmp_path, good, corrupt and hostile."""
from __future__ import annotations

import hashlib
import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from modelzoo.cache import Cache, Checksum
from modelzoo.integrity import RECORD
from modelzoo.errors import ArchiveError
from modelzoo.unpack import detect_kind, unpack

FILES = {"net/model.onnx": b"\x08\x07onnx" * 1000, "net/labels.txt": b"cat\ndog\n"}


def checksum_of(path: Path) -> Checksum:
    return Checksum("sha256", hashlib.sha256(path.read_bytes()).hexdigest())


def make_tar(path: Path, files: dict[str, bytes], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def add_member(tar: tarfile.TarFile, name: str, kind: bytes = tarfile.REGTYPE,
               linkname: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    tar.addfile(info, io.BytesIO(b""))


def make_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
    return path


def cache_is_clean(cache: Cache) -> bool:
    """No tree and no staging folder left in unpacked/."""
    root = cache.root / "unpacked"
    return not root.exists() or not any(p for p in root.rglob("*") if not p.is_dir()) and \
        not any(p.name.startswith(".") for p in root.rglob("*"))


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*") if p.is_file() and p.name != RECORD}


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


@pytest.mark.parametrize("name,mode", [("m.tar", "w"), ("m.tar.gz", "w:gz"), ("m.tgz", "w:gz"),
                                       ("m.tar.bz2", "w:bz2"), ("m.tar.xz", "w:xz")])
def test_tar_formats(tmp_path: Path, cache: Cache, name: str, mode: str) -> None:
    archive = make_tar(tmp_path / name, FILES, mode)
    folder = unpack(archive, checksum_of(archive), cache)
    assert tree(folder) == FILES
    assert folder == cache.unpacked_dir(checksum_of(archive))


def test_zip(tmp_path: Path, cache: Cache) -> None:
    archive = make_zip(tmp_path / "m.zip", {**FILES, "net/empty/": b""})
    folder = unpack(archive, checksum_of(archive), cache)
    assert tree(folder) == FILES
    assert (folder / "net" / "empty").is_dir()


def test_kind_is_detected_by_content(tmp_path: Path, cache: Cache) -> None:
    archive = make_tar(tmp_path / "download", FILES, "w:gz")
    zipped = make_zip(tmp_path / "model.bin", FILES)
    assert detect_kind(archive) == "tar" and detect_kind(zipped) == "zip"
    assert tree(unpack(archive, checksum_of(archive), cache)) == FILES
    assert tree(unpack(zipped, checksum_of(zipped), cache)) == FILES


def test_plain_model_file_is_placed_alone(tmp_path: Path, cache: Cache) -> None:
    model = tmp_path / "frozen.pb"
    model.write_bytes(b"\n\x0cgraph bytes")
    folder = unpack(model, checksum_of(model), cache)
    assert tree(folder) == {"frozen.pb": model.read_bytes()}


def test_second_unpack_finds_the_tree(tmp_path: Path, cache: Cache) -> None:
    archive = make_tar(tmp_path / "m.tar", FILES)
    checksum = checksum_of(archive)
    first = unpack(archive, checksum, cache)
    archive.unlink()  # a cached tree is returned without reading the archive again
    assert unpack(archive, checksum, cache) == first
    assert tree(first) == FILES


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:xz"])
def test_truncated_tar(tmp_path: Path, cache: Cache, mode: str) -> None:
    archive = make_tar(tmp_path / "m.tar.gz", {"big.bin": bytes(range(256)) * 4000}, mode)
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match=r"m\.tar\.gz: the archive is corrupt or truncated"):
        unpack(archive, checksum_of(archive), cache)
    assert cache_is_clean(cache)


def test_truncated_zip(tmp_path: Path, cache: Cache) -> None:
    archive = make_zip(tmp_path / "m.zip", FILES)
    archive.write_bytes(archive.read_bytes()[:-30])
    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        unpack(archive, checksum_of(archive), cache)
    assert cache_is_clean(cache)


def test_archive_name_with_other_content(tmp_path: Path, cache: Cache) -> None:
    archive = tmp_path / "m.tar.gz"
    archive.write_bytes(b"<html>Not Found</html>")
    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        unpack(archive, checksum_of(archive), cache)
    assert cache_is_clean(cache)


def test_tar_with_parent_member(tmp_path: Path, cache: Cache) -> None:
    archive = make_tar(tmp_path / "m.tar", {"ok.txt": b"fine", "../evil.txt": b"escape"})
    with pytest.raises(ArchiveError, match=r"unsafe member '\.\./evil\.txt'"):
        unpack(archive, checksum_of(archive), cache, label="zoo.toml, model 'net'")
    assert not (cache.root / "evil.txt").exists()
    assert cache_is_clean(cache)


def test_tar_with_absolute_path(tmp_path: Path, cache: Cache) -> None:
    archive = make_tar(tmp_path / "m.tar", {"/tmp/evil.txt": b"escape"})
    with pytest.raises(ArchiveError, match="absolute"):
        unpack(archive, checksum_of(archive), cache)
    assert cache_is_clean(cache)


def test_tar_with_absolute_symlink(tmp_path: Path, cache: Cache) -> None:
    archive = tmp_path / "m.tar"
    with tarfile.open(archive, "w") as tar:
        add_member(tar, "net/passwd", tarfile.SYMTYPE, "/etc/passwd")
    with pytest.raises(ArchiveError, match=r"unsafe member 'net/passwd'"):
        unpack(archive, checksum_of(archive), cache)
    assert cache_is_clean(cache)


def test_tar_with_symlink_out_of_the_tree(tmp_path: Path, cache: Cache) -> None:
    archive = tmp_path / "m.tar"
    with tarfile.open(archive, "w") as tar:
        add_member(tar, "net/up", tarfile.SYMTYPE, "../../..")
    with pytest.raises(ArchiveError, match="unsafe member 'net/up'"):
        unpack(archive, checksum_of(archive), cache)
    assert cache_is_clean(cache)


def test_tar_with_device_file(tmp_path: Path, cache: Cache) -> None:
    archive = tmp_path / "m.tar"
    with tarfile.open(archive, "w") as tar:
        add_member(tar, "dev/null", tarfile.CHRTYPE)
    with pytest.raises(ArchiveError, match="unsafe member 'dev/null'"):
        unpack(archive, checksum_of(archive), cache)
    assert cache_is_clean(cache)


def test_tar_with_inner_symlink_is_fine(tmp_path: Path, cache: Cache) -> None:
    archive = tmp_path / "m.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("net/model.onnx")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
        add_member(tar, "net/latest.onnx", tarfile.SYMTYPE, "model.onnx")
    folder = unpack(archive, checksum_of(archive), cache)
    assert (folder / "net" / "latest.onnx").read_bytes() == b"abc"


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt",
                                  "..\\evil.txt"])
def test_zip_with_unsafe_path(tmp_path: Path, cache: Cache, name: str) -> None:
    archive = tmp_path / "m.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("ok.txt", b"fine")
        zipped.writestr(zipfile.ZipInfo(name), b"escape")
    with pytest.raises(ArchiveError, match="unsafe member"):
        unpack(archive, checksum_of(archive), cache)
    assert not (tmp_path / "evil.txt").exists()
    assert cache_is_clean(cache)


def test_zip_with_symlink(tmp_path: Path, cache: Cache) -> None:
    archive = tmp_path / "m.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zipped.writestr(info, "/etc/passwd")
    with pytest.raises(ArchiveError, match="link or special file"):
        unpack(archive, checksum_of(archive), cache)
    assert cache_is_clean(cache)


def test_tar_bomb_over_the_size_limit(tmp_path: Path, cache: Cache) -> None:
    archive = make_tar(tmp_path / "bomb.tar.gz", {"zeros.bin": bytes(5_000_000)}, "w:gz")
    assert archive.stat().st_size < 20_000
    with pytest.raises(ArchiveError, match="past 1000000 bytes.*decompression bomb"):
        unpack(archive, checksum_of(archive), cache, max_bytes=1_000_000)
    assert cache_is_clean(cache)


def test_zip_bomb_over_the_size_limit(tmp_path: Path, cache: Cache) -> None:
    archive = make_zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(5_000_000)})
    with pytest.raises(ArchiveError, match="decompression bomb"):
        unpack(archive, checksum_of(archive), cache, max_bytes=1_000_000)
    assert cache_is_clean(cache)


def test_zip_understating_its_sizes_is_rejected(tmp_path: Path, cache: Cache) -> None:
    """Headers that understate a member's size must not sneak it past the byte limit."""
    archive = make_zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(3_000_000)})
    data = bytearray(archive.read_bytes())
    small = (10).to_bytes(4, "little")
    real = (3_000_000).to_bytes(4, "little")
    data = bytes(data).replace(real, small)  # local and central headers both
    archive.write_bytes(data)
    with pytest.raises(ArchiveError, match="corrupt"):
        unpack(archive, checksum_of(archive), cache, max_bytes=1_000_000)
    assert cache_is_clean(cache)


@pytest.mark.parametrize("maker", [make_tar, make_zip])
def test_too_many_files(tmp_path: Path, cache: Cache, maker) -> None:
    archive = maker(tmp_path / "many", {f"f{i}": b"x" for i in range(50)})
    with pytest.raises(ArchiveError, match="more than 20 files"):
        unpack(archive, checksum_of(archive), cache, max_files=20)
    assert cache_is_clean(cache)


def test_error_names_the_model(tmp_path: Path, cache: Cache) -> None:
    archive = tmp_path / "m.zip"
    archive.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(ArchiveError) as caught:
        unpack(archive, checksum_of(archive), cache, label="zoo.toml, model 'net'")
    assert "zoo.toml, model 'net', file" in str(caught.value) and "m.zip" in str(caught.value)


@pytest.mark.parametrize("name,mode", [("m.tar.gz", "w:gz"), ("m.tar.bz2", "w:bz2"),
                                       ("m.tar.xz", "w:xz")])
def test_corrupted_compressed_tar(tmp_path: Path, cache: Cache, name: str, mode: str) -> None:
    archive = make_tar(tmp_path / name, {"data.bin": bytes(range(256)) * 400}, mode)
    data = bytearray(archive.read_bytes())
    for i in range(len(data) // 3, len(data) // 3 + 40):
        data[i] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        unpack(archive, checksum_of(archive), cache)
    assert cache_is_clean(cache)


def test_tar_with_hard_link_out_of_the_tree(tmp_path: Path, cache: Cache) -> None:
    archive = tmp_path / "m.tar"
    with tarfile.open(archive, "w") as tar:
        add_member(tar, "net/shadow", tarfile.LNKTYPE, "../../etc/shadow")
    with pytest.raises(ArchiveError, match="unsafe member 'net/shadow'"):
        unpack(archive, checksum_of(archive), cache)
    assert cache_is_clean(cache)
