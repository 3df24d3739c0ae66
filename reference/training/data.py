"""MNIST and Fashion-MNIST: the checked files, read and preprocessed the way the paper does it.

Both networks must see exactly the same numbers, so the data path is strict: every file is
checked against its published size and md5, and only the checked files are parsed (with
torchvision's own IDX reader). Older torchvision versions cached the data as
<root>/MNIST/processed/training.pt and test.pt and loaded that cache in preference to the raw
files; such a cache is never read here (a DataWarning names it), so no unchecked data can
slip in. Each problem is reported as one DataError that names the file or folder and the fix,
not as a traceback from deep inside torchvision.

Preprocessing follows the paper: pixels scaled by 1/255 to [0, 1], each image flattened to
784 values, and the 60,000 training images split into the first 50,000 for training and the
last 10,000 held out for validation; the 10,000 test images stay the test set.
"""

import gzip
import hashlib
import os
import shutil
import stat
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

DATA_ROOT_ENV = "SCRATCH_NN_DATA_ROOT"
DATASETS = ("mnist", "fashion")
DEFAULT_DATA_ROOT = Path("data")

# Where Debian's dataset-fashion-mnist package puts its four .gz files; used for Fashion-MNIST
# when the data root has no FashionMNIST/raw of its own.
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")

# The last VALIDATION_SIZE training images are held out (the paper's 50,000 / 10,000 split).
VALIDATION_SIZE = 10_000

# torchvision's classes, by name: the folders of its layout, and what downloads (torchvision is imported
# where it reads or downloads, so that a command's --help does not load torch).
_TORCHVISION_CLASSES = {"mnist": "MNIST", "fashion": "FashionMNIST"}


class DataError(Exception):
    """The data cannot be used as it is: the message says what is wrong, where and how to fix it."""


class DataWarning(UserWarning):
    """Something under the data root is ignored; the message says what and why."""


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


class _Problem(NamedTuple):
    kind: str  # "missing", "unreadable" (the file is there, this user may not read it) or "bad"
    text: str


def resolve_data_root(cli_value: str | None) -> Path:
    """The data root: the command-line option if given, else $SCRATCH_NN_DATA_ROOT, else ./data.
    CI sets the variable, so the same command finds the data on every machine."""
    value = cli_value or os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT
    return Path(value).expanduser()


def load_dataset(name="mnist", root=None, dtype=np.float32, download=False, cache_dir=None) -> Dataset:
    """Load MNIST or Fashion-MNIST from a torchvision-layout root, checked and preprocessed.

    The files are read from <root>/<MNIST|FashionMNIST>/raw, uncompressed or as .gz; root may
    also be a flat folder of the four .gz files (Debian's layout), and for Fashion-MNIST
    without its own files Debian's package folder is used if installed. .gz files are checked,
    then unpacked once into cache_dir (default $XDG_CACHE_HOME/scratch_nn).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {DATASETS}")
    dtype = _float_dtype(dtype)
    root = resolve_data_root(None) if root is None else Path(root)
    _refuse_misplaced_root(name, root)
    if download:
        _download(name, root)
    paths = _checked_files(name, root, Path(cache_dir) if cache_dir is not None else _default_cache_dir())

    from torchvision.datasets.mnist import read_image_file, read_label_file

    def read(prefix: str) -> tuple[np.ndarray, np.ndarray]:
        images = read_image_file(str(paths[f"{prefix}-images-idx3-ubyte"])).numpy()
        images = images.reshape(len(images), -1).astype(dtype)
        images /= 255
        return images, read_label_file(str(paths[f"{prefix}-labels-idx1-ubyte"])).numpy().astype(np.int64)

    (train_images, train_labels), (test_images, test_labels) = read("train"), read("t10k")
    held_out = len(train_images) - VALIDATION_SIZE
    return Dataset(
        name=name,
        train=Split(train_images[:held_out], train_labels[:held_out]),
        validation=Split(train_images[held_out:], train_labels[held_out:]),
        test=Split(test_images, test_labels),
    )


def _float_dtype(dtype) -> np.dtype:
    """float32 or float64: the two precisions the comparison runs in; anything else is a mistake
    of type, as everywhere else in the project."""
    try:
        resolved = None if dtype is None else np.dtype(dtype)  # np.dtype(None) would be float64
    except TypeError:
        resolved = None
    if resolved is None or resolved.type not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}")
    return resolved


def _raw_folder(root: Path, name: str) -> Path:
    """Where torchvision's layout keeps the files under root."""
    return root / _TORCHVISION_CLASSES[name] / "raw"


def _refuse_misplaced_root(name: str, root: Path) -> None:
    """A root that is MNIST/raw or MNIST/ itself would be searched for MNIST/raw inside it (and
    a download would nest another one there): name the root that was meant instead."""
    if _is_folder(_raw_folder(root, name)):
        return
    folder = _TORCHVISION_CLASSES[name]
    absolute = Path(os.path.abspath(root))
    if absolute.name == "raw" and absolute.parent.name == folder:
        meant, what = absolute.parent.parent, f"the {folder}/raw folder itself"
    elif absolute.name == folder and (absolute / "raw").is_dir():
        meant, what = absolute.parent, f"the {folder} folder itself"
    else:
        return
    raise DataError(f"the data root {root} is {what}; the data root is the folder that contains "
                    f"{folder}/: use --data-root {meant} (or ${DATA_ROOT_ENV}={meant})")


def _checked_files(name: str, root: Path, cache_root: Path) -> dict[str, Path]:
    """The four uncompressed files, each checked, by name. A file present only as .gz is
    checked, then unpacked into the cache (once: a cached copy that passes is reused)."""
    folder = _source_folder(name, root)
    if folder == _raw_folder(root, name):
        _warn_about_processed_cache(name, root)
    listing = _listing(folder)
    sources = {file: folder / (file if file in listing or f"{file}.gz" not in listing else f"{file}.gz")
               for file in CHECKSUMS[name]}
    problems = [problem for file, path in sources.items()
                if (problem := _file_problem(path, CHECKSUMS[name][file])) is not None]
    if problems:
        raise DataError(_problems_message(name, folder, problems))
    cache_raw = _raw_folder(cache_root, name)
    checked = {}
    for file, path in sources.items():
        if path.suffix == ".gz":
            cached = cache_raw / file
            if _file_problem(cached, CHECKSUMS[name][file]) is not None:
                _unpack(path, cached)
            path = cached
        checked[file] = path
    return checked


def _source_folder(name: str, root: Path) -> Path:
    """The folder the files are read from: <root>/MNIST/raw (or FashionMNIST) when it exists,
    else root itself when it is a flat folder of .gz files, else Debian's Fashion-MNIST folder;
    failing all, <root>/MNIST/raw, which will be reported missing."""
    raw = _raw_folder(root, name)
    if _is_folder(raw):
        return raw
    names = _listing(root)
    if any(f"{file}.gz" in names for file in CHECKSUMS[name]):
        return root
    if name == "fashion" and DEBIAN_FASHION_DIR.is_dir():
        return DEBIAN_FASHION_DIR
    return raw


def _is_folder(path: Path) -> bool:
    """Whether path is a folder; a parent this user may not search is a DataError (pathlib raises)."""
    try:
        return path.is_dir()
    except PermissionError as error:
        raise _unreadable_folder(path.parent, error) from error


def _listing(folder: Path) -> set[str]:
    """The names in folder (none when it does not exist); a folder this user may not read is a DataError."""
    try:
        return set(os.listdir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return set()
    except PermissionError as error:
        raise _unreadable_folder(folder, error) from error


def _unreadable_folder(folder: Path, error: OSError) -> DataError:
    return DataError(f"cannot read the folder {folder} ({error.strerror}): give this user read and search "
                     f"permission on it (chmod a+rx {folder}), or point the data root at a readable copy")


def _warn_about_processed_cache(name: str, root: Path) -> None:
    """Older torchvision versions cached the data as processed/training.pt and test.pt, and
    torchvision still loads that cache, unchecked, in preference to the raw files (as soon as both
    names exist); it is never read here."""
    processed = _raw_folder(root, name).parent / "processed"
    if any(os.path.exists(processed / file) for file in ("training.pt", "test.pt")):
        warnings.warn(f"ignoring {processed}: an older torchvision's cache, which cannot be checked; "
                      f"the checked files in {_raw_folder(root, name)} are read instead", DataWarning, stacklevel=4)


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scratch_nn"


def _unpack(gz_path: Path, target: Path) -> None:
    """Decompress gz_path into target through a temporary file in the same folder and a rename,
    so that an interrupted or concurrent unpack never leaves a half-written file under the real
    name; the temporary file is removed on any exception, Ctrl-C included."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as error:
        raise _cache_error(target.parent, error) from error
    try:
        with os.fdopen(descriptor, "wb") as stream, gzip.open(gz_path) as source:
            shutil.copyfileobj(source, stream, 1 << 20)
        os.replace(temporary, target)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _cache_error(target.parent, error) from error
        raise


def _cache_error(folder: Path, error: OSError) -> DataError:
    return DataError(f"cannot unpack into the cache {folder} ({error.strerror or error}): make it writable, "
                     f"or set $XDG_CACHE_HOME (cache_dir in Python) to a writable folder with 55 MB free")


def _download(name: str, root: Path) -> None:
    """torchvision's own download (all four files, unless all four names are present), with a
    failure turned into guidance. Only its download method runs: its constructor would return
    early, downloading nothing, when a processed/ cache exists, and would parse files unchecked."""
    from torchvision import datasets as tv_datasets

    torchvision_class = getattr(tv_datasets, _TORCHVISION_CLASSES[name])
    downloader = torchvision_class.__new__(torchvision_class)
    tv_datasets.VisionDataset.__init__(downloader, str(root))  # sets .root, which download() uses
    try:
        downloader.download()
    except (RuntimeError, OSError) as error:
        reason = (str(error).strip() or type(error).__name__).splitlines()[-1]  # torchvision's is long
        raise DataError(f"could not download {_title(name)} ({reason}).\n"
                        + _how_to_get(name, _raw_folder(root, name), [])) from error


def _file_problem(path: Path, spec: FileSpec) -> _Problem | None:
    """What is wrong with one file (judged by its content, decompressed if .gz), or None."""
    where = f"{path.name} in {path.parent}"
    try:
        kind = os.stat(path).st_mode  # a FIFO would block the read forever, a device never end: regular files only
        if not stat.S_ISREG(kind):
            what = "a folder" if stat.S_ISDIR(kind) else "a FIFO (named pipe)" if stat.S_ISFIFO(kind) else "not a file"
            return _Problem("bad", f"{where} is {what}: the data must be regular files")
        size, md5 = _size_and_md5(path)
    except FileNotFoundError:
        return _Problem("missing", f"{path.name} is missing from {path.parent}")
    except PermissionError:
        return _Problem("unreadable", f"{where} cannot be read: permission denied (chmod a+r {path})")
    except (EOFError, zlib.error, gzip.BadGzipFile) as error:
        return _Problem("bad", f"{where} cannot be decompressed, it is damaged or truncated ({error})")
    except OSError as error:
        return _Problem("unreadable", f"{where} cannot be read ({error.strerror or error})")
    if size != spec.size:
        verb = "decompresses to" if path.suffix == ".gz" else "is"
        return _Problem("bad",
                        f"{where} {verb} {size} bytes, expected {spec.size} (truncated or not the published file)")
    if md5 != spec.md5:
        return _Problem("bad", f"{where} does not match the published checksum (md5 {md5}, expected {spec.md5})")
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


def _problems_message(name: str, folder: Path, problems: list[_Problem]) -> str:
    """One line per file, then how to put good files in place when some are missing or bad (an
    unreadable file needs only its permission, which its own line says)."""
    listing = "".join(f"\n  - {problem.text}" for problem in problems)
    message = f"{_title(name)} data cannot be used:{listing}"
    if any(problem.kind != "unreadable" for problem in problems):
        message += "\n" + _how_to_get(name, folder, problems)
    return message


def _how_to_get(name: str, folder: Path, problems: list[_Problem]) -> str:
    """The ways to put good files in place. torchvision downloads only when a file is missing,
    so a bad file must be deleted before --download can replace it."""
    files = ", ".join(CHECKSUMS[name])
    ways = [f"copy the four files ({files}; or the same names with .gz) into {folder}, replacing any bad ones",
            f"point the data root (--data-root or ${DATA_ROOT_ENV}) at the folder that contains "
            f"{_raw_folder(Path(), name)} with them"]
    if any(problem.kind == "bad" for problem in problems):
        ways.append("delete the bad files listed above, then rerun with --download (download=True) where a "
                    "network is available: torchvision downloads only files that are missing")
    else:
        ways.append("rerun with --download (download=True) where a network is available")
    if name == "fashion":
        ways.insert(0, f"`apt-get install dataset-fashion-mnist`: its .gz files in {DEBIAN_FASHION_DIR} "
                       f"are used when the data root has no {_raw_folder(Path(), name)}")
    return f"The files must be in {folder}. To get them:" + "".join(f"\n  - {way}" for way in ways)


def binary(dataset: Dataset, positive: int) -> Dataset:
    """The dataset with each label 1 where it was `positive`, 0 elsewhere (one class against the rest)."""
    def relabel(split: Split) -> Split:
        return Split(split.images, (split.labels == positive).astype(np.int64))
    return Dataset(dataset.name, relabel(dataset.train), relabel(dataset.validation), relabel(dataset.test))
