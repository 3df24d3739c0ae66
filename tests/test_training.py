"""Training both sides on the same batches: the shuffler, the per-epoch records, divergence, and
the full-MNIST run (marked tier)."""

import dataclasses

import numpy as np
import pytest
import torch

from reference import tolerances
from reference.training import checkpoint, sides
from reference.training.concurrent import ScratchProcess
from reference.training.data import load_dataset
from reference.training.presets import PRESETS
from reference.training.run import (
    DivergedError,
    RunConfig,
    TwinTraining,
    build_networks,
    epoch_batches,
    train_twins,
)
from reference.training.run_config import ConfigError
from reference.twin import numpy_state_dict


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


def test_two_processes_compute_what_one_does_sharing_the_torch_evaluation(dtype, synthetic, monkeypatch):
    """The default run (the scratch side in a process of its own, which also predicts with the torch
    model on part of the evaluation pieces) and a sequential one give the same records to the bit,
    but for the clocks. Pieces of 16 examples, so that every split has several to share."""
    monkeypatch.setattr(sides, "EVAL_CHUNK", 16)
    shared = []
    ask = ScratchProcess.start_torch_predictions
    monkeypatch.setattr(ScratchProcess, "start_torch_predictions",
                        lambda worker, model, chunks: (shared.append(chunks), ask(worker, model, chunks)))
    config = RunConfig(spec="784-16-10", lr=0.5, epochs=2, batch_size=32, dtype=np.dtype(dtype).name)
    data = synthetic(dtype=dtype)

    def records(concurrency):
        run = [record.to_dict() for record in TwinTraining(config, concurrency=concurrency).epochs(data)]
        for record in run:  # all but the clocks
            del record["wall_seconds"], record["scratch"]["seconds"], record["torch"]["seconds"]
        return run

    assert records("process") == records("sequential")
    assert [len(chunks) for chunks in shared] == [11, 11]  # of 21 pieces (13 train, 4 validation, 4 test) each epoch


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
    records = list(train_twins(quick, synthetic(n_train=64, dtype=np.dtype(config.dtype))))
    assert records[0].divergence.step_check_ok


@pytest.mark.parametrize("setting, value", [
    ("spec", "784-12.7-10"), ("spec", [784, 10]), ("spec", "10-784"), ("activation", "gelu"), ("loss", "hinge"),
    ("output_activation", "softplus"), ("init", "xavier"), ("dtype", "float16"), ("dataset", "cifar"),
    ("batch_size", 0), ("batch_size", 32.0), ("batch_size", True), ("lr", 0.0), ("lr", float("nan")), ("lr", "0.1"),
    ("epochs", 0), ("seed", -1), ("device", "mps"), ("train_limit", 0), ("threads", 0),
    ("optimizer", "lbfgs"), ("momentum", 0.9), ("betas", (0.9, 1.0)), ("betas", 0.9), ("eps", 0.0), ("alpha", 0.5),
    ("amsgrad", True), ("centered", True), ("weight_decay", -1.0), ("dropout", 1.0), ("dropout", "0.5"),
    ("batch_norm", "yes"),
])
def test_the_api_refuses_what_the_command_line_refuses(setting, value):
    """train_twins validates before it looks at the data (None here) and names the option."""
    with pytest.raises(ConfigError, match=f"^--{setting.replace('_', '-')} "):
        train_twins(RunConfig(**{setting: value}), data=None)


def test_presets_and_defaults_are_valid():
    for _, config in PRESETS.values():
        assert config.validate() is config
    assert RunConfig(output_activation="sigmoid", loss="mse", train_limit=5, spec="784-10").validate()


RESUMED = {  # what a run must carry across a checkpoint besides the weights and the shuffler
    "sgd": {},
    "adam (moments, step count)": dict(optimizer="adam", lr=1e-2, amsgrad=True),
    "dropout (generators), momentum (buffers)": dict(optimizer="momentum", lr=0.1, dropout=0.3),
    "batch norm (running statistics), nesterov": dict(optimizer="nesterov", lr=0.1, batch_norm=True, dropout=0.2),
    "adam with dropout": dict(optimizer="adam", lr=1e-2, dropout=0.5),
    "rmsprop (square averages, momentum buffers)": dict(optimizer="rmsprop", lr=1e-3, momentum=0.5, centered=True),
}


@pytest.mark.parametrize("settings", RESUMED.values(), ids=RESUMED.keys())
def test_a_resumed_run_matches_the_uninterrupted_one_bit_for_bit(settings, synthetic, tmp_path):
    """Two epochs straight, or one, a checkpoint through a file, and one more: the same float64
    parameters (and buffers), optimizer states and dropout generators on both sides, to the bit,
    since the same operations run on the same numbers. The scratch side trains in its own process
    (the default), so its optimizer's state and generators come back from it every epoch."""
    data = synthetic(dtype=np.float64)
    config = RunConfig(**{"spec": "784-16-10", "lr": 0.5, "epochs": 2, "batch_size": 32, "dtype": "float64",
                          **settings})
    straight = TwinTraining(config)
    list(straight.epochs(data))

    first = TwinTraining(dataclasses.replace(config, epochs=1))
    (record,) = first.epochs(data)
    checkpoint.save(first.checkpoint([record]), tmp_path / "run.npz")
    saved = checkpoint.load(tmp_path / "run.npz")
    assert saved.epoch == 1 and saved.records == [record.to_dict()]
    resumed = TwinTraining(dataclasses.replace(saved.config, epochs=2), resume=saved)
    assert [r.epoch for r in resumed.epochs(data)] == [2]

    expected, actual = straight.checkpoint(), resumed.checkpoint()
    for side in ("scratch", "torch"):
        assert getattr(expected, side).keys() == getattr(actual, side).keys()
        for key, value in getattr(expected, side).items():
            np.testing.assert_array_equal(getattr(actual, side)[key], value, err_msg=f"{side} {key}", strict=True)
        np.testing.assert_equal(actual.optimizers[side], expected.optimizers[side], err_msg=f"{side} optimizer")
        assert actual.generators[side] == expected.generators[side]
    assert bool(expected.optimizers["scratch"]["state"]) == (config.optimizer != "sgd")
    assert bool(expected.generators["scratch"]) == bool(config.dropout)
    assert straight.rng.bit_generator.state == resumed.rng.bit_generator.state


def test_a_checkpoint_is_plain_npz_that_either_side_loads(synthetic, tmp_path):
    config = RunConfig(spec="784-16-10", epochs=1, dtype="float64", train_limit=64)
    run = TwinTraining(config)
    list(run.epochs(synthetic(dtype=np.float64)))
    checkpoint.save(run.checkpoint(), tmp_path / "run.npz")
    with np.load(tmp_path / "run.npz", allow_pickle=False) as archive:
        files = set(archive.files)
        scratch = {key.removeprefix("scratch/"): archive[key] for key in files if key.startswith("scratch/")}
        twin = {key.removeprefix("torch/"): torch.from_numpy(archive[key]) for key in files if key.startswith("torch/")}
    assert {"config", "epoch", "shuffler", "records", "format"} <= files
    fresh, model = build_networks(config)
    fresh.load_state_dict(twin)  # either side's weights fit either side
    model.load_state_dict(twin)
    fresh.load_state_dict(scratch)
    np.testing.assert_array_equal(numpy_state_dict(model)["0.weight"], run.checkpoint().torch["0.weight"])


def test_a_checkpoint_of_another_network_is_refused(synthetic, tmp_path):
    saved = TwinTraining(RunConfig(spec="784-16-10", dtype="float64")).checkpoint()
    with pytest.raises(checkpoint.CheckpointError, match="scratch: the saved state does not fit a 784-32-10 network"):
        TwinTraining(RunConfig(spec="784-32-10", dtype="float64"), resume=saved)


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
