"""Uploads of people's own photos: safe unpacking, folder scans, and folders as run datasets.

Every zip here is written with ``zipfile`` in memory; every image is a real PNG, JPEG, GIF or
BMP written with Pillow. The size limits are configuration read at unpacking time, so some
tests lower them with monkeypatch to keep the files small.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data import folder_scan, folders
from core.data.availability import check_available, missing_files
from core.data.checks import check_config, train_size
from core.data.folders import (
    FolderInfo,
    UploadError,
    add_upload,
    dataset_info,
    extract_zip,
    folder_info,
    scan_folder,
    uploaded_folders,
    uploads_dir,
)
from core.spec.catalog import DATASETS
from core.spec.config import ConfigError, RunConfig

# ---------------------------------------------------------------------------------------------
# Writers of small images, folders and zips
# ---------------------------------------------------------------------------------------------


def image_bytes(colour: int = 0, fmt: str = "PNG", size: tuple[int, int] = (16, 16)) -> bytes:
    """A real image file: one flat colour, saved in ``fmt``."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (colour, 255 - colour, 40)).save(buffer, format=fmt)
    return buffer.getvalue()


def noise_png(seed: int, side: int = 64) -> bytes:
    """A PNG that does not compress (random pixels)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def noise_jpeg(side: int = 96) -> bytes:
    """A JPEG whose compressed data is long enough to be cut without touching its headers."""
    pixels = np.random.default_rng(1).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def class_members(
    classes: tuple[str, ...] = ("barrel", "blue", "moon"), per_class: int = 3, prefix: str = ""
) -> dict[str, bytes]:
    """Zip members for class folders of small PNG and JPEG images."""
    members = {}
    for c, name in enumerate(classes):
        for i in range(per_class):
            fmt, ext = ("JPEG", "jpg") if i % 2 else ("PNG", "png")
            members[f"{prefix}{name}/{i}.{ext}"] = image_bytes(40 * c + i, fmt)
    return members


def make_zip(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_with(info: zipfile.ZipInfo, data: bytes, base: dict[str, bytes] | None = None) -> bytes:
    """A zip of ``base`` members plus one member with a hand-made header."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in (base if base is not None else class_members()).items():
            archive.writestr(name, content)
        archive.writestr(info, data)
    return buffer.getvalue()


def patch_headers(data: bytes, name: str, local: int, central: int, fmt: str, value: int) -> bytes:
    """Overwrite one field of a member's local header and central directory entry.

    ``local`` and ``central`` are the field's offsets in the two headers (APPNOTE 4.3.7 and
    4.3.12): flags at 6 and 8, uncompressed size at 22 and 24.
    """
    patched = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        offset = archive.getinfo(name).header_offset
    struct.pack_into(fmt, patched, offset + local, value)
    encoded = name.encode()
    entry = patched.index(b"PK\x01\x02")  # central directory entries: name at offset 46
    while patched[entry + 46 : entry + 46 + len(encoded)] != encoded:
        entry = patched.index(b"PK\x01\x02", entry + 4)
    struct.pack_into(fmt, patched, entry + central, value)
    return bytes(patched)


def write_folder(root: Path, members: dict[str, bytes]) -> Path:
    for name, data in members.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def listing(root: Path) -> list[str]:
    """Every file and folder under ``root``, relative, sorted."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


def refused(cache: Path, data: bytes | Path, match: str) -> UploadError:
    """Unpack ``data``, expect a refusal matching ``match`` and that nothing was left behind."""
    before = listing(cache)
    with pytest.raises(UploadError, match=match) as caught:
        extract_zip(data, cache)
    assert listing(cache) == before
    assert caught.value.field == "dataset"
    assert "\n" not in caught.value.message and caught.value.message.endswith(".")
    return caught.value


# ---------------------------------------------------------------------------------------------
# Attacks: each is refused and leaves the cache as it was
# ---------------------------------------------------------------------------------------------


def test_dotdot_path_is_refused(cache: Path, tmp_path: Path) -> None:
    data = make_zip({**class_members(), "moon/../../../evil.png": image_bytes()})
    refused(cache, data, r"points outside its folder with '\.\.'")
    assert not list(tmp_path.rglob("evil.png"))


@pytest.mark.parametrize("form", ["{tmp}/evil.png", "C:/evil.png", "\\evil.png"])
def test_absolute_path_is_refused(cache: Path, tmp_path: Path, form: str) -> None:
    info = zipfile.ZipInfo("placeholder")
    info.filename = form.format(
        tmp=tmp_path
    )  # ZipInfo() strips a leading slash; crafted zips do not
    refused(cache, zip_with(info, image_bytes()), "absolute path")
    assert not (tmp_path / "evil.png").exists()


@pytest.mark.parametrize(
    ("kind", "words"),
    [(stat.S_IFLNK, "a symbolic link"), (stat.S_IFCHR, "a link or special file")],
)
def test_symlink_and_special_members_are_refused(cache: Path, kind: int, words: str) -> None:
    info = zipfile.ZipInfo("moon/link.png")
    info.create_system = 3  # Unix: the mode lives in the high 16 bits of external_attr
    info.external_attr = (kind | 0o777) << 16
    refused(cache, zip_with(info, b"/etc/passwd"), words)


def test_zip_bomb_member_by_ratio_is_refused(cache: Path) -> None:
    bomb = zipfile.ZipInfo("moon/big.bmp")
    bomb.compress_type = zipfile.ZIP_DEFLATED
    data = zip_with(bomb, bytes(3 * 1024**2))  # 3 MiB of zeros deflate about 1000 to 1
    refused(cache, data, r"moon/big\.bmp is compressed more than 200 to 1")


def test_zip_bomb_spread_over_members_is_refused_by_overall_ratio(cache: Path) -> None:
    # Each member stays under the size from which members are held to the ratio.
    zeros = bytes(folders.RATIO_FLOOR - 1)
    data = make_zip({**class_members(), **{f"moon/z{i}.bmp": zeros for i in range(3)}})
    refused(cache, data, "the zip as a whole is compressed more than 200 to 1")


def test_total_size_cap_is_refused(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folders, "MAX_BYTES", 40_000)
    members = {f"{c}/{i}.png": noise_png(10 * i + ord(c[0])) for c in ("a", "b") for i in range(3)}
    assert sum(map(len, members.values())) > 40_000
    refused(cache, make_zip(members), "unpack to more than 40,000 bytes")


def test_headers_that_understate_sizes_are_refused(cache: Path) -> None:
    """A member whose headers claim 100 bytes but which inflates to 3 MiB: never unpacked."""
    data = make_zip({**class_members(), "moon/liar.bmp": bytes(3 * 1024**2)})
    data = patch_headers(data, "moon/liar.bmp", local=22, central=24, fmt="<I", value=100)
    refused(cache, data, r"moon/liar\.bmp in the zip is damaged")


def test_too_many_members_are_refused(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folders, "MAX_FILES", 5)
    refused(cache, make_zip(class_members()), "holds 9 entries; the most accepted is 5")


def test_not_a_zip_is_refused(cache: Path, tmp_path: Path) -> None:
    refused(cache, b"these are not the bytes of a zip", "is not a zip file")
    fake = tmp_path / "photos.zip"
    fake.write_bytes(image_bytes())
    refused(cache, fake, r"photos\.zip is not a zip file")
    refused(cache, tmp_path / "missing.zip", "there is no zip file at")


def test_password_protected_members_are_refused(cache: Path) -> None:
    data = make_zip({**class_members(), "moon/secret.png": image_bytes()})
    data = patch_headers(data, "moon/secret.png", local=6, central=8, fmt="<H", value=0x1)
    refused(cache, data, "password-protected")


def test_a_member_listed_twice_is_refused(cache: Path) -> None:
    info = zipfile.ZipInfo("moon/0.png")
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = zip_with(info, image_bytes(99))
    refused(cache, data, r"moon/0\.png is in the zip twice")


# ---------------------------------------------------------------------------------------------
# What a good zip becomes
# ---------------------------------------------------------------------------------------------


def test_unpacks_into_a_fresh_folder_and_writes_nothing_else(cache: Path) -> None:
    (cache / "store.sqlite").write_bytes(b"x")
    before = listing(cache)
    data = make_zip(class_members())
    folder = extract_zip(data, cache, name="jelly.zip")
    import hashlib

    assert folder == uploads_dir(cache) / hashlib.sha256(data).hexdigest()[:16]
    assert folder.is_absolute()
    new = sorted(set(listing(cache)) - set(before))
    prefix = folder.relative_to(cache).as_posix()
    assert new[0] == "uploads" and all(p.startswith(prefix) for p in new[1:])
    assert sorted(listing(folder)) == sorted(
        [".upload.json", "barrel", "blue", "moon", *class_members()]
    )
    assert (folder / "moon" / "1.jpg").read_bytes() == class_members()["moon/1.jpg"]


def test_the_same_zip_twice_gives_the_same_folder_unpacked_once(
    cache: Path, tmp_path: Path
) -> None:
    data = make_zip(class_members())
    first = extract_zip(data, cache)
    marker = first / "moon" / "marker.txt"
    marker.write_text("still here")
    path = tmp_path / "again.zip"
    path.write_bytes(data)
    assert extract_zip(path, cache) == first
    assert marker.read_text() == "still here"
    assert uploaded_folders(cache) == [first]


def test_non_images_are_skipped_and_counted(cache: Path) -> None:
    members = {
        **class_members(),
        "moon/notes.txt": b"not an image",
        "moon/fake.jpg": b"not a jpeg either",
        "blue/clip.mp4": b"\x00" * 100,
        "moon/.DS_Store": b"hidden",
        ".hidden/x.png": image_bytes(),
        "__MACOSX/moon/._0.png": b"resource fork",
    }
    folder = extract_zip(make_zip(members), cache, name="jelly.zip")
    files = listing(folder)
    assert not any(n.endswith(("notes.txt", "fake.jpg", "clip.mp4", ".DS_Store")) for n in files)
    assert not any("__MACOSX" in n or ".hidden" in n for n in files)
    info = scan_folder(folder)
    assert info.skipped == 2  # hidden files and __MACOSX are not counted
    assert set(info.skipped_examples) == {"moon/notes.txt", "blue/clip.mp4"}
    assert list(info.unreadable) == ["moon/fake.jpg"]
    assert info.unreadable["moon/fake.jpg"].startswith("its content is not an image")
    assert info.counts == (3, 3, 3) and info.title == "jelly"


@pytest.mark.parametrize("prefix", ["jellyfish/", "archive/jellyfish/"])
def test_folders_wrapping_the_class_folders_are_looked_through(cache: Path, prefix: str) -> None:
    folder = extract_zip(make_zip({**class_members(prefix=prefix), "README.txt": b"hi"}), cache)
    info = scan_folder(folder)
    assert info.class_names == ("barrel", "blue", "moon")
    assert info.path == folder / prefix.rstrip("/")
    assert info.counts == (3, 3, 3)


def test_empty_folders_in_the_zip_are_kept_so_an_empty_class_is_named(cache: Path) -> None:
    data = make_zip({**class_members(("moon", "blue")), "barrel/": b""})
    folder = extract_zip(data, cache)
    assert (folder / "barrel").is_dir()
    with pytest.raises(UploadError, match="class 'barrel' has no images"):
        scan_folder(folder)


def test_add_upload_removes_an_unusable_upload(cache: Path) -> None:
    data = make_zip(class_members(("moon",)))
    with pytest.raises(UploadError, match="at least two class folders"):
        add_upload(data, cache)
    assert uploaded_folders(cache) == []
    good = add_upload(make_zip(class_members()), cache)
    assert uploaded_folders(cache) == [good]


def test_uploaded_folders_lists_newest_first_and_skips_other_entries(cache: Path) -> None:
    old = extract_zip(make_zip(class_members()), cache)
    os.utime(old / ".upload.json", (1, 1))
    new = extract_zip(make_zip(class_members(("a", "b"))), cache)
    (uploads_dir(cache) / ".unpacking-leftover").mkdir()
    (uploads_dir(cache) / "not-an-upload").mkdir()
    assert uploaded_folders(cache) == [new, old]


# ---------------------------------------------------------------------------------------------
# Scanning a folder
# ---------------------------------------------------------------------------------------------


def test_scan_lists_classes_counts_sizes_and_files_in_keras_order(tmp_path: Path) -> None:
    members = {
        **class_members(("moon", "barrel"), per_class=4),
        "moon/deep/er/5.PNG": image_bytes(5, size=(20, 10)),
        "moon/6.gif": image_bytes(6, "GIF"),
        "barrel/7.bmp": image_bytes(7, "BMP"),
        "top-level.png": image_bytes(),
        ".ipynb_checkpoints/x.png": image_bytes(),
    }
    info = scan_folder(write_folder(tmp_path / "data", members))
    assert isinstance(info, FolderInfo)
    assert info.class_names == ("barrel", "moon")
    assert info.counts == (5, 6) and info.n_images == 11
    assert info.sizes == {(16, 16): 10, (20, 10): 1}
    assert [p.name for p in info.images[1]] == [
        "0.png",
        "1.jpg",
        "2.png",
        "3.jpg",
        "6.gif",
        "5.PNG",
    ]
    assert info.skipped == 1 and info.skipped_examples == ("top-level.png",)
    assert info.title == "data"


def test_fewer_than_two_classes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UploadError, match=r"/one needs at least two class folders.*has one: moon/"):
        scan_folder(write_folder(tmp_path / "one", class_members(("moon",))))
    (tmp_path / "none").mkdir()
    with pytest.raises(UploadError, match=r"it has none\.$"):
        scan_folder(tmp_path / "none")
    with pytest.raises(UploadError, match="there is no folder at"):
        scan_folder(tmp_path / "missing")


def test_empty_class_is_named(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "d", {**class_members(("moon", "blue")), "barrel/a.txt": b""})
    with pytest.raises(
        UploadError, match="class 'barrel' has no readable images: its only file is not an image"
    ):
        scan_folder(folder)


def test_class_with_too_few_images_is_named(tmp_path: Path) -> None:
    members = {**class_members(("moon", "blue")), **class_members(("barrel",), per_class=2)}
    with pytest.raises(UploadError, match=r"class 'barrel' has only 2 images; .* at least 3"):
        scan_folder(write_folder(tmp_path / "d", members))


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("moon/bad.png", b"\x89PNG\r\n\x1a\n garbage", "does not open as an image"),
        ("moon/cut.jpg", noise_jpeg()[:-1500], "the JPEG data is cut short"),
        ("moon/broken.png", image_bytes()[:-30], "does not open as an image"),
        ("moon/odd.png", image_bytes(fmt="TIFF"), "it is a TIFF image"),
    ],
    ids=["garbage-png", "truncated-jpeg", "truncated-png", "tiff-named-png"],
)
def test_a_corrupt_image_is_named(tmp_path: Path, name: str, data: bytes, words: str) -> None:
    folder = write_folder(tmp_path / "d", {**class_members(), name: data})
    with pytest.raises(UploadError, match=rf"{re.escape(name)} cannot be used: .*{words}"):
        scan_folder(folder)


def test_split_folders_are_not_taken_for_classes(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "d", class_members(("train", "test")))
    with pytest.raises(UploadError, match=r"holds split folders \(test, train\).*d/test"):
        scan_folder(folder)


def test_scans_are_remembered_until_a_class_folder_changes(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "d", class_members())
    first = scan_folder(folder)
    assert scan_folder(str(folder)) is first
    (folder / "moon" / "new.png").write_bytes(image_bytes(200))
    again = scan_folder(folder)
    assert again is not first and again.counts == (3, 3, 4)


def test_scan_of_a_thousand_photos_is_fast(tmp_path: Path) -> None:
    import time

    photo = image_bytes(fmt="JPEG", size=(320, 240))
    members = {f"c{c}/{i}.jpg": photo for c in range(6) for i in range(170)}
    folder = write_folder(tmp_path / "d", members)
    start = time.perf_counter()
    assert scan_folder(folder).n_images == 1020
    assert time.perf_counter() - start < 5


# ---------------------------------------------------------------------------------------------
# Folders as datasets: DatasetInfo, the run config, the availability checks
# ---------------------------------------------------------------------------------------------


def test_a_folder_of_3_classes_of_30_is_too_small_for_a_test_set(tmp_path: Path) -> None:
    members = class_members(per_class=30)
    info = folder_info(write_folder(tmp_path / "jelly", members))
    # 20% of 30 is 6 test images a class, under the 10 a test set needs: none, all train.
    assert (info.n_train, info.n_test) == (90, 0)
    assert (info.num_classes, info.shape, info.title) == (
        3,
        (16, 16, 3),
        "jelly",
    )  # the photos' own size
    assert info.name == str((tmp_path / "jelly").resolve()) and info.files == ()


def test_the_test_set_is_20_percent_once_every_class_has_50_images() -> None:
    assert (folders.FOLDER_TEST_SHARE, folders.MIN_TEST_PER_CLASS) == (0.2, 10)
    assert folders.MIN_CLASS_FOR_TEST == 50
    assert folders.folder_test_size([163] * 5 + [164]) == 196  # the jellyfish report's 979
    assert folders.folder_test_size([50, 50]) == 20
    assert folders.folder_test_size([30, 30, 30]) == 0
    assert folders.folder_test_size([49, 500, 500]) == 0  # the smallest class decides
    assert folders.folder_test_size([]) == 0


@pytest.mark.parametrize("counts", [[50, 51, 52], [50, 99], [53, 50, 61, 77, 50], [50] * 7])
def test_the_stratified_draw_gives_every_class_its_10_test_images(counts: list[int]) -> None:
    from sklearn.model_selection import train_test_split

    from core.engine.loading.folders import FOLDER_TEST_SEED  # no Keras at import

    y = np.repeat(np.arange(len(counts)), counts)
    n_test = folders.folder_test_size(counts)
    _, test = train_test_split(
        np.arange(len(y)), test_size=n_test, stratify=y, random_state=FOLDER_TEST_SEED
    )
    assert np.bincount(y[test], minlength=len(counts)).min() >= folders.MIN_TEST_PER_CLASS


def test_dataset_info_is_a_built_in_or_a_folder(tmp_path: Path) -> None:
    assert dataset_info("digits") is DATASETS["digits"]
    folder = write_folder(tmp_path / "d", class_members())
    assert dataset_info(str(folder)).num_classes == 3
    with pytest.raises(ConfigError, match="unknown value 'svhn'; choose one of: digits"):
        dataset_info("svhn")
    with pytest.raises(ConfigError, match=r"there is no folder at .*/nowhere; give a built-in"):
        dataset_info(str(tmp_path / "nowhere"))
    zipped = tmp_path / "photos.zip"
    zipped.write_bytes(make_zip(class_members()))
    with pytest.raises(ConfigError, match=r"photos\.zip is a zip file; unpack it first"):
        dataset_info(str(zipped))
    with pytest.raises(ConfigError, match="is a file, not a folder of class folders"):
        dataset_info(str(folder / "moon" / "0.png"))


def test_a_launched_config_keeps_its_folders_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_folder(tmp_path / "jelly", class_members(per_class=30))
    monkeypatch.chdir(tmp_path)
    cfg = check_config(RunConfig(dataset="jelly", batch_size=16))
    assert cfg.dataset == str(folder.resolve())
    assert train_size(cfg) == 90 - 18  # 90 images: no test set, ceil(90 * 0.2) = 18 validation
    assert RunConfig.from_json(cfg.to_json()) == cfg
    again = check_config(RunConfig(dataset="./jelly/", batch_size=16))
    assert again.config_hash() == cfg.config_hash()


def test_a_config_is_a_value_whose_folder_is_read_only_at_launch(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    cfg = RunConfig(dataset=str(gone), batch_size=100_000)  # nothing on disk is read
    assert RunConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ConfigError, match="there is no folder at") as caught:
        check_config(cfg)
    assert caught.value.field == "dataset"


def test_launch_refuses_a_batch_larger_than_the_folders_training_share(
    tmp_path: Path,
) -> None:
    folder = write_folder(tmp_path / "jelly", class_members(per_class=30))
    with pytest.raises(ConfigError, match=r"batch size 100 is larger than the training set \(72"):
        check_config(RunConfig(dataset=str(folder), batch_size=100))
    with pytest.raises(ConfigError, match="validation split 0.01 keeps only 1 validation images"):
        check_config(RunConfig(dataset=str(folder), batch_size=16, validation_split=0.01))


def test_launch_reports_an_unusable_folder(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "d", class_members(("moon",)))
    with pytest.raises(ConfigError, match="at least two class folders") as caught:
        check_config(RunConfig(dataset=str(folder)))
    assert caught.value.field == "dataset"


def test_availability_checks_accept_a_folder(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "d", class_members())
    assert missing_files(str(folder), tmp_path) == []
    check_available(str(folder), tmp_path)
    with pytest.raises(ConfigError, match="there is no folder at"):
        check_available(str(tmp_path / "gone"), tmp_path)


def test_limits_are_module_settings() -> None:
    assert (folders.MAX_FILES, folders.MAX_BYTES, folders.MAX_RATIO) == (20_000, 2 * 1024**3, 200)
    assert folder_scan.IMAGE_EXTENSIONS == (".bmp", ".gif", ".jpeg", ".jpg", ".png")
