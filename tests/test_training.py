"""Training both sides on the same batches: the shuffler, the per-epoch records, divergence, and
the full-MNIST run (marked tier)."""

import numpy as np
import pytest

from reference import tolerances
from reference.data import load_dataset
from reference.presets import PRESETS
from reference.training import DivergedError, RunConfig, epoch_batches, train_twins


def test_one_shuffler_covers_every_example_once_per_epoch():
    rng = np.random.default_rng(0)
    first, second = epoch_batches(100, 32, rng), epoch_batches(100, 32, rng)
    assert [len(b) for b in first] == [32, 32, 32, 4]
    assert sorted(np.concatenate(first)) == list(range(100))
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))  # reshuffled each epoch
    again = epoch_batches(100, 32, np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))  # and reproducible from the seed


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_twins_train_in_agreement(dtype, synthetic):
    config = RunConfig(spec="784-16-10", lr=0.5, epochs=2, batch_size=32, dtype=dtype)
    records = list(train_twins(config, synthetic(dtype=np.dtype(dtype))))
    assert [r.epoch for r in records] == [1, 2]
    for record in records:
        d = record.divergence
        assert d.within_tolerance and d.step_check_ok, d
        assert d.worst_scaled_abs <= tolerances.training_run(dtype).atol
        assert d.prediction_agreement == 1.0
        assert abs(d.train_loss_difference) < 1e-5
        assert set(d.parameters) == {"0.weight", "0.bias", "2.weight", "2.bias"}
        assert record.scratch.seconds > 0 and record.torch.seconds > 0
        assert record.scratch.validation_accuracy == record.torch.validation_accuracy
    assert records[-1].scratch.train_loss < records[0].scratch.train_loss  # it learns


def test_a_blow_up_stops_with_the_side_epoch_step_and_advice(synthetic):
    config = RunConfig(spec="784-256-128-64-10", activation="relu", lr=0.5, epochs=3, dtype="float32")
    with pytest.raises(DivergedError) as error:
        list(train_twins(config, synthetic(dtype=np.float32)))
    message = str(error.value)
    assert error.value.sides and error.value.epoch == 1 and error.value.step >= 1
    assert f"at epoch 1, step {error.value.step}" in message
    assert "Try a smaller learning rate (e.g. --lr 0.05)" in message


def test_one_sided_blow_up_is_called_a_disagreement():
    message = str(DivergedError(["scratch"], 2, 17, RunConfig(lr=1.0)))
    assert "the scratch loss became NaN/Inf at epoch 2, step 17" in message
    assert "torch side was still finite" in message


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid_runs(name, synthetic):
    """Every preset builds and takes a few steps on both sides (full runs are compare.py's job)."""
    description, config = PRESETS[name]
    assert description
    quick = RunConfig(**{**config.__dict__, "epochs": 1, "train_limit": 64})
    if "relu" in name or "256-128" in name:  # big paper-init networks: a few steps only, no verdict
        quick = RunConfig(**{**quick.__dict__, "train_limit": 32})
    records = list(train_twins(quick, synthetic(n_train=64, dtype=np.float32)))
    assert records[0].divergence.step_check_ok


@pytest.mark.slow
@pytest.mark.mnist
def test_full_mnist_epoch_float64(mnist_root):
    """All 50,000 training images for one epoch, 784-128-10 sigmoid, paper init, float64, lr 0.5.

    Bounds: the parameters agree within TRAINING_RUN_FLOAT64 (1e-10 of the scale; measured
    3.4e-15), the sides agree on at least 99.9% of validation predictions (measured 100%), and
    validation accuracy clears 90% (measured 93.5%), so that a run that learns nothing cannot pass.
    """
    data = load_dataset("mnist", mnist_root, dtype=np.float64)
    config = RunConfig(spec="784-128-10", activation="sigmoid", init="paper", dtype="float64", lr=0.5,
                       epochs=1, batch_size=32)
    (record,) = train_twins(config, data)
    d = record.divergence
    assert len(data.train.labels) == 50_000
    assert d.within_tolerance and d.worst_scaled_abs <= tolerances.TRAINING_RUN_FLOAT64.atol, d
    assert d.step_check_ok
    assert d.prediction_agreement >= 0.999
    assert record.scratch.validation_accuracy >= 0.90 and record.torch.validation_accuracy >= 0.90
    print(f"\nfull MNIST, 1 epoch float64: drift {d.worst_scaled_abs:.2e} in {d.worst_tensor}, "
          f"agreement {d.prediction_agreement:.4%}, validation {record.scratch.validation_accuracy:.2%}, "
          f"seconds scratch {record.scratch.seconds:.1f} / torch {record.torch.seconds:.1f}")
