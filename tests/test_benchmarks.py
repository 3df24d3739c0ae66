"""The benchmarks' yardstick: the bare-NumPy epoch (benchmarks/epochs.py) computes what scratch_nn
computes, to the bit, so that its time is the cost of the same arithmetic and nothing less."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from epochs import bare_numpy_side, epoch_order, scratch_side, synthetic_mnist  # noqa: E402


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_bare_numpy_epoch_trains_to_the_same_bits_as_scratch_nn(dtype):
    images, labels = synthetic_mnist(100, dtype)
    batches = epoch_order(100, 32)  # a last batch of 4
    bare, scratch = bare_numpy_side(dtype), scratch_side(dtype)
    before = scratch.network.state_dict()
    for run in (bare, scratch):
        run(images, labels, batches)
    for key, value in scratch.network.state_dict().items():
        assert not np.array_equal(value, before[key]), key  # it trained
        np.testing.assert_array_equal(bare.network.state_dict()[key], value, err_msg=key, strict=True)
