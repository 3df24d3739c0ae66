"""compare.py on a tiny random dataset instead of MNIST, for tests that run it as a separate
process (to send it signals): python tests/compare_on_tiny_data.py [compare.py options]."""

import sys

import numpy as np

from reference.cli import main as cli
from reference.cli import train as train_cli
from reference.training.data import Dataset, Split


def tiny_dataset(name, root, dtype, download) -> Dataset:
    rng = np.random.default_rng(0)

    def split(n):
        return Split(rng.random((n, 784)).astype(dtype), rng.integers(0, 10, n))

    return Dataset("tiny", split(64), split(32), split(32))


if __name__ == "__main__":
    train_cli.load_dataset = tiny_dataset
    sys.exit(cli.main())
