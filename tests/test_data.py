"""The data path: integrity checks and their messages, the layouts it reads, the preprocessing
and the split.

Most tests run on small synthetic IDX files written to tmp_path, with the checksum table
monkeypatched to describe them, so they are fast and need no real data; those marked
slow/mnist load the real files.
"""

import errno
import gzip
import hashlib
import os
import re
import shutil
import struct
import warnings
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision

from reference.training import data
from reference.training.data import (
    DataError,
    DataWarning,
    load_dataset,
    resolve_data_root,
)

N_TRAIN, N_TEST, N_VALIDATION = 12, 5, 4
DTYPES = [np.float32, np.float64]


def synthetic_files(seed=0) -> dict[str, bytes]:
    """The four IDX files of a tiny data set, by name: uint8 images (n, 28, 28) and labels 0..9."""
    rng = np.random.default_rng(seed)
    files = {}
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        images[0, 0, :2] = 0, 255  # both ends of the pixel range occur
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        files[f"{prefix}-images-idx3-ubyte"] = struct.pack(">IIII", 0x00000803, n, 28, 28) + images.tobytes()
        files[f"{prefix}-labels-idx1-ubyte"] = struct.pack(">II", 0x00000801, n) + labels.tobytes()
    return files


def table(files: dict[str, bytes]) -> dict[str, data.FileSpec]:
    return {name: data.FileSpec(len(content), hashlib.md5(content).hexdigest()) for name, content in files.items()}


def write(folder: Path, files: dict[str, bytes], gz=False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(content))
        else:
            (folder / name).write_bytes(content)
    return folder


def pixels(content: bytes) -> np.ndarray:
    """An IDX image file's pixels as the (n, 784) uint8 rows they should load as."""
    return np.frombuffer(content, np.uint8, offset=16).reshape(-1, 784)


def labels(content: bytes) -> np.ndarray:
    return np.frombuffer(content, np.uint8, offset=8)


@pytest.fixture(autouse=True)
def no_debian_fashion(tmp_path, monkeypatch):
    """Keep Debian's Fashion-MNIST folder out of every test unless it asks for it, so the
    results do not depend on whether this machine has the package."""
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", tmp_path / "no-debian-package")


@pytest.fixture
def files(monkeypatch) -> dict[str, bytes]:
    """A synthetic data set that the checksum table (of both data sets) describes, with a
    validation split small enough for it."""
    files = synthetic_files()
    for name in data.DATASETS:
        monkeypatch.setitem(data.CHECKSUMS, name, table(files))
    monkeypatch.setattr(data, "VALIDATION_SIZE", N_VALIDATION)
    return files


def permission_denied_for(denied: Path, real):
    """A stand-in for real (os.listdir, os.mkdir, open) that fails on the path denied as it does for
    a user without permission. The suite runs as root, for whom chmod denies nothing, so the
    error is raised at the call the loader makes instead."""
    def call(path, *args, **kwargs):
        if Path(path) == denied:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, *args, **kwargs)
    return call


def assert_loaded(dataset, files, dtype):
    """The dataset is files preprocessed: pixels/255 as dtype, flattened, int64 labels, the
    last N_VALIDATION training images held out."""
    train_pixels = pixels(files["train-images-idx3-ubyte"]).astype(dtype) / 255
    train_labels = labels(files["train-labels-idx1-ubyte"])
    held_out = N_TRAIN - N_VALIDATION
    expected = {
        "train": (train_pixels[:held_out], train_labels[:held_out]),
        "validation": (train_pixels[held_out:], train_labels[held_out:]),
        "test": (pixels(files["t10k-images-idx3-ubyte"]).astype(dtype) / 255, labels(files["t10k-labels-idx1-ubyte"])),
    }
    for split_name, (images, split_labels) in expected.items():
        split = getattr(dataset, split_name)
        assert split.images.dtype == dtype and split.images.shape == (len(images), 784), split_name
        assert split.labels.dtype == np.int64, split_name
        np.testing.assert_array_equal(split.images, images, err_msg=split_name)
        np.testing.assert_array_equal(split.labels, split_labels, err_msg=split_name)
    assert dataset.train.images.min() == 0 and dataset.train.images.max() == 1


# --- integrity -----------------------------------------------------------------------------

@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion", "FashionMNIST")])
def test_empty_root_names_each_missing_file_its_folder_and_how_to_get_it(tmp_path, name, folder):
    with pytest.raises(DataError) as caught:
        load_dataset(name, tmp_path)
    message = str(caught.value)
    raw = tmp_path / folder / "raw"
    for file in data.CHECKSUMS[name]:
        assert f"{file} is missing from {raw}" in message
    assert f"The files must be in {raw}" in message
    assert "--download" in message and "copy the four files" in message
    assert ("apt-get install dataset-fashion-mnist" in message) == (name == "fashion")


def test_truncated_file_is_named_with_its_size_and_the_expected_size(tmp_path, files):
    raw = write(tmp_path / "MNIST" / "raw", files)
    full = len(files["train-images-idx3-ubyte"])
    (raw / "train-images-idx3-ubyte").write_bytes(files["train-images-idx3-ubyte"][:1000])
    with pytest.raises(DataError) as caught:
        load_dataset("mnist", tmp_path)
    message = str(caught.value)
    assert f"train-images-idx3-ubyte in {raw} is 1000 bytes, expected {full}" in message
    problems = message.split("\nThe files must be in")[0].splitlines()[1:]
    assert len(problems) == 1, problems  # the good files are not listed


def test_altered_file_of_the_right_size_fails_the_checksum(tmp_path, files):
    raw = write(tmp_path / "MNIST" / "raw", files)
    altered = bytearray(files["t10k-labels-idx1-ubyte"])
    altered[-3:] = bytes(10 - value for value in altered[-3:])  # still labels 0..9, same size
    (raw / "t10k-labels-idx1-ubyte").write_bytes(altered)
    with pytest.raises(DataError) as caught:
        load_dataset("mnist", tmp_path)
    message = str(caught.value)
    assert f"t10k-labels-idx1-ubyte in {raw} does not match the published checksum" in message
    assert "replacing any bad ones" in message


# --- loading and preprocessing ------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_valid_set_loads_through_torchvision_preprocessed_and_split(tmp_path, files, dtype):
    write(tmp_path / "MNIST" / "raw", files)
    dataset = load_dataset("mnist", tmp_path, dtype=dtype)
    assert dataset.name == "mnist"
    assert_loaded(dataset, files, dtype)


@pytest.mark.parametrize("dtype", [np.float16, np.int64, "double precision", None])
def test_other_dtypes_are_refused_by_name(tmp_path, dtype):
    with pytest.raises(TypeError, match=f"float32 or float64, got {dtype!r}"):
        load_dataset("mnist", tmp_path, dtype=dtype)


def test_unknown_dataset_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        load_dataset("cifar", tmp_path)


# --- Fashion-MNIST as a flat folder of .gz files (Debian's layout) ------------------------

def test_flat_gz_folder_is_unpacked_into_the_cache_in_torchvision_layout(tmp_path, files):
    flat = write(tmp_path / "flat", files, gz=True)
    dataset = load_dataset("fashion", flat, cache_dir=tmp_path / "cache")
    cache_raw = tmp_path / "cache" / "FashionMNIST" / "raw"
    assert sorted(os.listdir(cache_raw)) == sorted(files)  # no temporary file left beside them
    for name, content in files.items():
        assert (cache_raw / name).read_bytes() == content
    assert_loaded(dataset, files, np.float32)


def test_fashion_without_its_own_files_uses_the_debian_package_folder(tmp_path, files, monkeypatch):
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", write(tmp_path / "debian", files, gz=True))
    dataset = load_dataset("fashion", tmp_path / "root", cache_dir=tmp_path / "cache")
    assert_loaded(dataset, files, np.float32)


def test_stale_cache_is_unpacked_again(tmp_path, files):
    flat = write(tmp_path / "flat", files, gz=True)
    stale = write(tmp_path / "cache" / "FashionMNIST" / "raw", {"train-labels-idx1-ubyte": b"stale"})
    assert_loaded(load_dataset("fashion", flat, cache_dir=tmp_path / "cache"), files, np.float32)
    assert (stale / "train-labels-idx1-ubyte").read_bytes() == files["train-labels-idx1-ubyte"]


@pytest.mark.parametrize("damage, complaint", [
    (lambda gz: gz[:len(gz) // 2], "cannot be decompressed, it is damaged or truncated"),
    (lambda gz: gzip.compress(bytes(len(gzip.decompress(gz)))), "does not match the published checksum"),
])
def test_damaged_gz_is_named_and_nothing_is_unpacked(tmp_path, files, damage, complaint):
    flat = write(tmp_path / "flat", files, gz=True)
    gz = flat / "train-images-idx3-ubyte.gz"
    gz.write_bytes(damage(gz.read_bytes()))
    with pytest.raises(DataError) as caught:
        load_dataset("fashion", flat, cache_dir=tmp_path / "cache")
    message = str(caught.value)
    assert f"train-images-idx3-ubyte.gz in {flat} {complaint}" in message
    assert f"The files must be in {flat}" in message
    assert not (tmp_path / "cache" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").exists()


# --- data root and download ---------------------------------------------------------------

def test_data_root_precedence_is_cli_then_environment_then_dot_data(monkeypatch):
    monkeypatch.setenv(data.DATA_ROOT_ENV, "/from/env")
    assert resolve_data_root("/from/cli") == Path("/from/cli")
    assert resolve_data_root(None) == Path("/from/env")
    monkeypatch.delenv(data.DATA_ROOT_ENV)
    assert resolve_data_root(None) == Path("data")


def test_download_without_network_gives_guidance_not_a_traceback(tmp_path, monkeypatch):
    def no_network(url, *args, **kwargs):
        raise URLError("no network here")
    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", no_network)
    with pytest.raises(DataError) as caught:
        load_dataset("mnist", tmp_path, download=True)
    message = str(caught.value)
    raw = tmp_path / "MNIST" / "raw"
    assert "could not download MNIST" in message and "no network here" in message
    assert f"The files must be in {raw}" in message and "copy the four files" in message


@pytest.mark.parametrize("processed_cache", [False, True])  # torchvision's constructor would skip the download
def test_download_puts_files_where_the_loader_reads_them(tmp_path, files, monkeypatch, processed_cache):
    def fake_download(url, download_root, filename, md5):
        (Path(download_root) / filename.removesuffix(".gz")).write_bytes(files[filename.removesuffix(".gz")])
    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", fake_download)
    if processed_cache:
        write(tmp_path / "MNIST" / "processed", {"training.pt": b"", "test.pt": b""})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        assert_loaded(load_dataset("mnist", tmp_path, download=True), files, np.float32)


# --- what the data path refuses or ignores, and what it says ----------------------------------

def test_processed_cache_of_older_torchvision_is_ignored_with_a_warning(tmp_path, files):
    write(tmp_path / "MNIST" / "raw", files)
    processed = tmp_path / "MNIST" / "processed"
    processed.mkdir()
    altered = (torch.zeros(N_TRAIN, 28, 28, dtype=torch.uint8), torch.zeros(N_TRAIN, dtype=torch.int64))
    for file in ("training.pt", "test.pt"):
        torch.save(altered, processed / file)
    assert torchvision.datasets.MNIST(str(tmp_path)).data.max() == 0  # torchvision itself loads the cache
    with pytest.warns(DataWarning, match=re.escape(f"ignoring {processed}: ")):
        assert_loaded(load_dataset("mnist", tmp_path), files, np.float32)


@pytest.mark.parametrize("n_gz", [4, 1])  # all four as .gz, or one beside three uncompressed
def test_gz_files_in_the_raw_folder_are_checked_and_unpacked_into_the_cache(tmp_path, files, n_gz):
    names = list(files)
    raw = write(tmp_path / "MNIST" / "raw", {name: files[name] for name in names[:n_gz]}, gz=True)
    write(raw, {name: files[name] for name in names[n_gz:]})
    assert_loaded(load_dataset("mnist", tmp_path, cache_dir=tmp_path / "cache"), files, np.float32)
    assert sorted(os.listdir(tmp_path / "cache" / "MNIST" / "raw")) == sorted(names[:n_gz])


@pytest.mark.parametrize("download", [False, True])
@pytest.mark.parametrize("given", ["MNIST/raw", "MNIST"])
def test_root_pointing_inside_the_layout_names_the_root_meant(tmp_path, files, monkeypatch, given, download):
    write(tmp_path / "MNIST" / "raw", files)
    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", pytest.fail)
    with pytest.raises(DataError) as caught:
        load_dataset("mnist", tmp_path / given, download=download)
    assert str(caught.value) == (f"the data root {tmp_path / given} is the {given} folder itself; the data root is "
                                 f"the folder that contains MNIST/: use --data-root {tmp_path} "
                                 f"(or ${data.DATA_ROOT_ENV}={tmp_path})")
    assert not (tmp_path / given / "MNIST").exists()  # nothing nested


@pytest.mark.parametrize("denied_call, folder", [("listdir", "MNIST/raw"),  # raw not readable
                                                 ("stat", "MNIST")])  # raw's parent not searchable
def test_unreadable_folder_is_named_with_the_fix(tmp_path, files, monkeypatch, denied_call, folder):
    write(tmp_path / "MNIST" / "raw", files)
    monkeypatch.setattr(os, denied_call, permission_denied_for(tmp_path / "MNIST" / "raw", getattr(os, denied_call)))
    with pytest.raises(DataError) as caught:
        load_dataset("mnist", tmp_path)
    folder = tmp_path / folder
    assert str(caught.value) == (f"cannot read the folder {folder} (Permission denied): give this user read and "
                                 f"search permission on it (chmod a+rx {folder}), or point the data root at a "
                                 f"readable copy")


def test_unreadable_file_is_called_unreadable_not_damaged(tmp_path, files, monkeypatch):
    raw = write(tmp_path / "MNIST" / "raw", files)
    denied = raw / "t10k-images-idx3-ubyte"
    monkeypatch.setattr(data, "open", permission_denied_for(denied, open), raising=False)
    with pytest.raises(DataError) as caught:
        load_dataset("mnist", tmp_path)
    assert str(caught.value) == (f"MNIST data cannot be used:\n  - t10k-images-idx3-ubyte in {raw} cannot be read: "
                                 f"permission denied (chmod a+r {denied})")


@pytest.mark.parametrize("blocked", ["permission", "a file in the way"])
def test_unwritable_unpack_cache_is_named_with_the_fix(tmp_path, files, monkeypatch, blocked):
    flat = write(tmp_path / "flat", files, gz=True)
    cache = tmp_path / "cache"
    if blocked == "permission":
        monkeypatch.setattr(os, "mkdir", permission_denied_for(cache, os.mkdir))
    else:
        cache.write_bytes(b"")
    reason = {"permission": "Permission denied", "a file in the way": "Not a directory"}[blocked]
    with pytest.raises(DataError) as caught:
        load_dataset("fashion", flat, cache_dir=cache)
    assert str(caught.value).startswith(f"cannot unpack into the cache {cache / 'FashionMNIST' / 'raw'} ({reason}): "
                                        f"make it writable, or set $XDG_CACHE_HOME")


@pytest.mark.parametrize("interruption, raised", [(KeyboardInterrupt(), KeyboardInterrupt),
                                                  (OSError(errno.ENOSPC, "No space left on device"), DataError)])
def test_interrupted_unpack_leaves_no_temporary_file(tmp_path, files, monkeypatch, interruption, raised):
    flat = write(tmp_path / "flat", files, gz=True)

    def copy_then_fail(source, target, length):
        target.write(source.read(100))
        raise interruption
    monkeypatch.setattr(shutil, "copyfileobj", copy_then_fail)
    with pytest.raises(raised):
        load_dataset("fashion", flat, cache_dir=tmp_path / "cache")
    assert os.listdir(tmp_path / "cache" / "FashionMNIST" / "raw") == []


def test_download_with_a_bad_file_in_place_says_to_delete_it_first(tmp_path, files, monkeypatch):
    raw = write(tmp_path / "MNIST" / "raw", files)
    (raw / "train-labels-idx1-ubyte").write_bytes(b"bad")
    fetched = []
    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive",
                        lambda url, download_root, filename, md5: fetched.append(filename))
    with pytest.raises(DataError) as caught:
        load_dataset("mnist", tmp_path, download=True)
    assert fetched == []  # torchvision finds all four names present and downloads nothing
    message = str(caught.value)
    assert "train-labels-idx1-ubyte in" in message
    assert ("delete the bad files listed above, then rerun with --download (download=True) where a network is "
            "available: torchvision downloads only files that are missing") in message
    assert "\n  - rerun with --download" not in message


# --- the real files -------------------------------------------------------------------------

MNIST_TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.slow
@pytest.mark.mnist
@pytest.mark.parametrize("dtype", DTYPES)
def test_real_mnist_split_and_preprocessing(dtype, mnist_root):
    dataset = load_dataset("mnist", mnist_root, dtype=dtype)
    for split, n in ((dataset.train, 50_000), (dataset.validation, 10_000), (dataset.test, 10_000)):
        assert split.images.shape == (n, 784) and split.images.dtype == dtype
        assert split.images.min() == 0 and split.images.max() == 1
        assert split.labels.dtype == np.int64 and set(np.unique(split.labels)) == set(range(10))
    assert np.bincount(dataset.test.labels).tolist() == MNIST_TEST_CLASS_COUNTS
    parsed = torchvision.datasets.MNIST(str(mnist_root), train=True).data.numpy().reshape(-1, 784).astype(dtype) / 255
    np.testing.assert_array_equal(dataset.train.images, parsed[:50_000])
    np.testing.assert_array_equal(dataset.validation.images, parsed[-10_000:])


@pytest.mark.slow
def test_real_fashion_mnist_from_the_debian_package(tmp_path, monkeypatch):
    debian = Path("/usr/share/datasets/fashion-mnist")
    if not debian.is_dir():
        pytest.skip(f"{debian} is missing: `apt-get install dataset-fashion-mnist` provides it")
    monkeypatch.setattr(data, "DEBIAN_FASHION_DIR", debian)
    dataset = load_dataset("fashion", tmp_path / "root", cache_dir=tmp_path / "cache")
    for split, n in ((dataset.train, 50_000), (dataset.validation, 10_000), (dataset.test, 10_000)):
        assert split.images.shape == (n, 784) and split.images.dtype == np.float32
        assert split.images.min() == 0 and split.images.max() == 1
    assert np.bincount(dataset.test.labels).tolist() == [1000] * 10  # Fashion-MNIST's test set is balanced
    assert np.bincount(np.concatenate([dataset.train.labels, dataset.validation.labels])).tolist() == [6000] * 10
