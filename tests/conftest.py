import numpy as np
import pytest

from reference.data import Dataset, Split
from reference.twin import configure_determinism


def pytest_configure(config):
    configure_determinism()


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
