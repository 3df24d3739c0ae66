"""compare.py on a tiny random dataset instead of MNIST, for tests that run it as a separate
process (to send it signals): python tests/compare_on_tiny_data.py [compare.py options].
$TINY_DATA_ROWS sets the training rows (default 64; the evaluation splits get half as many each):
a few hundred make torch's evaluation large enough to use its thread pool."""

import os
import sys

import numpy as np
import torch

from reference.cli import main as cli
from reference.cli import train as train_cli
from reference.training.data import Dataset, Split


def tiny_dataset(name, root, dtype, download) -> Dataset:
    rng = np.random.default_rng(0)

    def split(n):
        return Split(rng.random((n, 784)).astype(dtype), rng.integers(0, 10, n))

    rows = int(os.environ.get("TINY_DATA_ROWS", "64"))
    # Loading MNIST runs torch's thread pool (torchvision's IDX reader): so does this, as a run's parent would.
    torch.ones(1 << 20).mul(2).sum()
    return Dataset("tiny", split(rows), split(rows // 2), split(rows // 2))


if __name__ == "__main__":
    train_cli.load_dataset = tiny_dataset
    sys.exit(cli.main())
