"""MNIST and Fashion-MNIST, read by torchvision and preprocessed the way the paper does it.

Both networks must see exactly the same numbers, so the data path is strict: every file is
checked against its published size and md5 before torchvision parses it, and a problem is
reported as one DataError that says what is wrong, where the files must go and how to get
them, not as a traceback from deep inside torchvision.

Preprocessing follows the paper: pixels scaled by 1/255 to [0, 1], each image flattened to
784 values, and the 60,000 training images split into the first 50,000 for training and the
last 10,000 held out for validation; the 10,000 test images stay the test set.
"""

import gzip
import hashlib
import os
import shutil
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from torchvision import datasets as tv_datasets

DATA_ROOT_ENV = "SCRATCH_NN_DATA_ROOT"
DATASETS = ("mnist", "fashion")
DEFAULT_DATA_ROOT = Path("data")

# Where Debian's dataset-fashion-mnist package puts its four .gz files; used for Fashion-MNIST
# when the data root has no FashionMNIST/raw of its own.
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

# The last VALIDATION_SIZE training images are held out (the paper's 50,000 / 10,000 split).
VALIDATION_SIZE = 10_000

_TORCHVISION_CLASSES = {"mnist": tv_datasets.MNIST, "fashion": tv_datasets.FashionMNIST}


class DataError(Exception):
    """The data cannot be used as it is: the message says what is wrong, where the files must
    go and how to get them."""


class FileSpec(NamedTuple):
    size: int  # bytes of the uncompressed file
    md5: str


# The uncompressed files, as torchvision reads them from <root>/<MNIST|FashionMNIST>/raw/.
# A .gz file is judged by what it decompresses to: gzip headers differ between copies of the
# same data (see the Fashion-MNIST note), the payload does not.
CHECKSUMS = {
    # The published sizes and md5s of the original uncompressed MNIST files.
    "mnist": {
        "train-images-idx3-ubyte": FileSpec(47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
        "train-labels-idx1-ubyte": FileSpec(60_008, "a25bea736e30d166cdddb491f175f624"),
        "t10k-images-idx3-ubyte": FileSpec(7_840_016, "2646ac647ad5339dbf082846283269ea"),
        "t10k-labels-idx1-ubyte": FileSpec(10_008, "27ae3e4e09519cfbb04c329615203637"),
    },
    # Zalando publishes md5s of the .gz files only (torchvision's FashionMNIST.resources).
    # Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1 recompressed them with a new
    # gzip header (no stored file name, 2020 timestamp), so its .gz md5s differ from the
    # published ones while the .gz files are exactly 23-24 bytes (the dropped name) shorter
    # than upstream's. These sizes and md5s were computed by decompressing Debian's files
    # (gzip's CRC32 checks passed); the md5s equal the uncompressed md5s listed independently
    # in several public Fashion-MNIST loaders.
    "fashion": {
        "train-images-idx3-ubyte": FileSpec(47_040_016, "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        "train-labels-idx1-ubyte": FileSpec(60_008, "9018921c3c673c538a1fc5bad174d6f9"),
        "t10k-images-idx3-ubyte": FileSpec(7_840_016, "8181f5470baa50b63fa0f6fddb340f0a"),
        "t10k-labels-idx1-ubyte": FileSpec(10_008, "15d484375f8d13e6eb1aabb0c3f46965"),
    },
}


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # (n, 784), float32 or float64, pixels in [0, 1]
    labels: np.ndarray  # (n,), int64, 0..9


@dataclass(frozen=True)
class Dataset:
    name: str  # "mnist" or "fashion"
    train: Split  # the first 50,000 training images
    validation: Split  # the last 10,000 training images, held out
    test: Split  # the 10,000 test images


def resolve_data_root(cli_value: str | None) -> Path:
    """The data root: the command-line option if given, else $SCRATCH_NN_DATA_ROOT, else ./data.
    CI sets the variable, so the same command finds the data on every machine."""
    value = cli_value or os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT
    return Path(value).expanduser()


def load_dataset(name="mnist", root=None, dtype=np.float32, download=False, cache_dir=None) -> Dataset:
    """Load MNIST or Fashion-MNIST from a torchvision-layout root, checked and preprocessed.

    root defaults to resolve_data_root(None). It may also be a flat folder of the four .gz
    files (Debian's layout); for Fashion-MNIST without its own files, Debian's package folder
    is used if installed. .gz files are decompressed once into cache_dir (default
    $XDG_CACHE_HOME/scratch_nn) so torchvision can read them.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {DATASETS}")
    dtype = _float_dtype(dtype)
    root = resolve_data_root(None) if root is None else Path(root)
    if download:
        _download(name, root)
    torchvision_root = _torchvision_root(name, root, cache_dir)

    def read(train: bool) -> tuple[np.ndarray, np.ndarray]:
        parsed = _TORCHVISION_CLASSES[name](str(torchvision_root), train=train, download=False)
        images = parsed.data.numpy().reshape(len(parsed.data), -1).astype(dtype)
        images /= 255
        return images, parsed.targets.numpy().astype(np.int64)

    (train_images, train_labels), (test_images, test_labels) = read(train=True), read(train=False)
    held_out = len(train_images) - VALIDATION_SIZE
    return Dataset(
        name=name,
        train=Split(train_images[:held_out], train_labels[:held_out]),
        validation=Split(train_images[held_out:], train_labels[held_out:]),
        test=Split(test_images, test_labels),
    )


def _float_dtype(dtype) -> np.dtype:
    """float32 or float64: the two precisions the comparison runs in; anything else is a mistake."""
    try:
        resolved = None if dtype is None else np.dtype(dtype)  # np.dtype(None) would be float64
    except TypeError:
        resolved = None
    if resolved is None or resolved.type not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return resolved


def _raw_folder(root: Path, name: str) -> Path:
    """Where torchvision looks for the uncompressed files under root."""
    return root / _TORCHVISION_CLASSES[name].__name__ / "raw"


def _torchvision_root(name: str, root: Path, cache_dir) -> Path:
    """A root torchvision can read with every file checked: root itself when it has the
    torchvision layout, otherwise the cache, unpacked from verified .gz files when stale."""
    gz_folder = _gz_folder(name, root)
    if gz_folder is None:
        _verify(_raw_folder(root, name), name)
        return root
    cache_root = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    cache_raw = _raw_folder(cache_root, name)
    if _problems(cache_raw, name):
        _verify(gz_folder, name, suffix=".gz")
        _unpack(gz_folder, cache_raw, name)
    return cache_root


def _gz_folder(name: str, root: Path) -> Path | None:
    """The flat folder of .gz files to read, or None when root is (or should be) a torchvision root."""
    if _raw_folder(root, name).is_dir():
        return None
    if any((root / f"{file}.gz").is_file() for file in CHECKSUMS[name]):
        return root
    if name == "fashion" and DEBIAN_FASHION_DIR.is_dir():
        return DEBIAN_FASHION_DIR
    return None


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scratch_nn"


def _unpack(gz_folder: Path, raw_folder: Path, name: str) -> None:
    """Decompress each .gz into raw_folder through a temporary file and a rename, so that an
    interrupted or concurrent unpack never leaves a half-written file under the real name."""
    raw_folder.mkdir(parents=True, exist_ok=True)
    for file in CHECKSUMS[name]:
        with gzip.open(gz_folder / f"{file}.gz") as source, \
                tempfile.NamedTemporaryFile(dir=raw_folder, delete=False) as target:
            shutil.copyfileobj(source, target, 1 << 20)
        os.replace(target.name, raw_folder / file)


def _download(name: str, root: Path) -> None:
    """torchvision's own download (all four files at once), with a failure turned into guidance."""
    try:
        _TORCHVISION_CLASSES[name](str(root), train=True, download=True)
    except (RuntimeError, OSError) as error:
        reason = (str(error).strip() or type(error).__name__).splitlines()[-1]  # torchvision's is long
        raise DataError(f"could not download {_title(name)} ({reason}).\n"
                        + _how_to_get(name, _raw_folder(root, name))) from error


def _verify(folder: Path, name: str, suffix: str = "") -> None:
    """Raise one DataError listing every file in folder that is missing, truncated or altered."""
    problems = _problems(folder, name, suffix)
    if problems:
        listing = "".join(f"\n  - {problem}" for problem in problems)
        raise DataError(f"{_title(name)} data cannot be used:{listing}\n" + _how_to_get(name, folder, suffix))


def _problems(folder: Path, name: str, suffix: str = "") -> list[str]:
    return [problem for file, spec in CHECKSUMS[name].items()
            if (problem := _file_problem(folder / f"{file}{suffix}", spec)) is not None]


def _file_problem(path: Path, spec: FileSpec) -> str | None:
    """What is wrong with one file (judged by its content, decompressed if .gz), or None."""
    where = f"{path.name} in {path.parent}"
    if not path.is_file():
        return f"{path.name} is missing from {path.parent}"
    try:
        size, md5 = _size_and_md5(path)
    except (OSError, EOFError, zlib.error) as error:
        return f"{where} cannot be read, it is damaged or truncated ({error})"
    if size != spec.size:
        verb = "decompresses to" if path.suffix == ".gz" else "is"
        return f"{where} {verb} {size} bytes, expected {spec.size} (truncated or not the published file)"
    if md5 != spec.md5:
        return f"{where} does not match the published checksum (md5 {md5}, expected {spec.md5})"
    return None


def _size_and_md5(path: Path) -> tuple[int, str]:
    """Size and md5 of a file's content, read in chunks so memory stays flat."""
    digest, size = hashlib.md5(), 0
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _title(name: str) -> str:
    return {"mnist": "MNIST", "fashion": "Fashion-MNIST"}[name]


def _how_to_get(name: str, folder: Path, suffix: str = "") -> str:
    """The ways to put good files in place, for the end of every DataError."""
    files = ", ".join(f"{file}{suffix}" for file in CHECKSUMS[name])
    ways = [f"copy the four files ({files}) into {folder}, replacing any bad ones",
            f"point the data root (command-line option or ${DATA_ROOT_ENV}) at a folder whose "
            f"{_raw_folder(Path(), name)} holds them",
            "rerun with --download (download=True) where a network is available"]
    if name == "fashion":
        ways.insert(0, f"`apt-get install dataset-fashion-mnist`: its .gz files in {DEBIAN_FASHION_DIR} "
                       f"are used when the data root has no {_raw_folder(Path(), name)}")
    return f"The files must be in {folder}. To get them:" + "".join(f"\n  - {way}" for way in ways)
