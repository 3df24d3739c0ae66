"""The data path: integrity checks and their messages, the layouts it reads, the preprocessing
and the split.

Most tests run on small synthetic IDX files written to tmp_path, with the checksum table
monkeypatched to describe them, so they are fast and need no real data; those marked
slow/mnist load the real files.
"""

import gzip
import hashlib
import struct
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torchvision

from reference import data
from reference.data import DataError, load_dataset, resolve_data_root

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
    with pytest.raises(ValueError, match=f"float32 or float64, got {dtype!r}"):
        load_dataset("mnist", tmp_path, dtype=dtype)


def test_unknown_dataset_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        load_dataset("cifar", tmp_path)


# --- Fashion-MNIST as a flat folder of .gz files (Debian's layout) ------------------------

def test_flat_gz_folder_is_unpacked_into_the_cache_in_torchvision_layout(tmp_path, files):
    flat = write(tmp_path / "flat", files, gz=True)
    dataset = load_dataset("fashion", flat, cache_dir=tmp_path / "cache")
    for name, content in files.items():
        assert (tmp_path / "cache" / "FashionMNIST" / "raw" / name).read_bytes() == content
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
    (lambda gz: gz[:len(gz) // 2], "cannot be read, it is damaged or truncated"),
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


def test_download_puts_files_where_the_loader_reads_them(tmp_path, files, monkeypatch):
    def fake_download(url, download_root, filename, md5):
        (Path(download_root) / filename.removesuffix(".gz")).write_bytes(files[filename.removesuffix(".gz")])
    monkeypatch.setattr(torchvision.datasets.mnist, "download_and_extract_archive", fake_download)
    assert_loaded(load_dataset("mnist", tmp_path, download=True), files, np.float32)


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
