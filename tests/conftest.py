import os
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

from reference.training.data import DATA_ROOT_ENV, Dataset, Split
from reference.twin import configure_determinism

pytest_plugins = ["pytester"]  # tests/test_pytest_failures.py runs users' test files through pytest itself

DTYPES = (np.float64, np.float32)  # every comparison runs in both; float64 is the tight one


def pytest_configure(config):
    configure_determinism()
    # One thread each for NumPy's BLAS and torch, as compare.py runs them: the suite alternates
    # between the two sides every few milliseconds, and two thread pools spinning against each
    # other on 2 cores made a 50-step trajectory take 19 s instead of 4.5 s (measured on the
    # 2-core development machine under load).
    torch.set_num_threads(1)
    threadpool_limits(limits=1, user_api="blas")  # stays in force for the session


@pytest.fixture(params=DTYPES, ids=lambda dtype: dtype.__name__)
def dtype(request):
    """Each dtype the comparisons are made in: a test taking `dtype` runs once for each."""
    return request.param


@pytest.fixture
def synthetic():
    """A factory for tiny datasets with MNIST's shapes: inputs in [0, 1], labels from a random
    linear teacher (so there is something to learn), in the dtype asked for."""

    def make(n_train=200, n_eval=50, dtype=np.float64, seed=0):
        rng = np.random.default_rng(seed)
        teacher = rng.standard_normal((784, 10))

        def split(n):
            images = rng.random((n, 784)).astype(dtype)
            return Split(images, (images @ teacher).argmax(axis=1))

        return Dataset("synthetic", split(n_train), split(n_eval), split(n_eval))

    return make


@pytest.fixture
def mnist_root() -> Path:
    """The real MNIST root, for the `mnist` tier. Unset: the test skips (a developer without the
    data). Set but without MNIST/raw: the test fails, since someone (CI, the Makefile) said the
    data would be there and a silent skip would hide that it is not."""
    value = os.environ.get(DATA_ROOT_ENV)
    if not value:
        pytest.skip(f"{DATA_ROOT_ENV} is not set: point it at the folder that holds MNIST/raw")
    root = Path(value)
    assert (root / "MNIST" / "raw").is_dir(), f"{DATA_ROOT_ENV}={root} has no MNIST/raw"
    return root
