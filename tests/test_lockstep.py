"""How the sides run (two processes or in turn) changes no number; lockstep judges every step; and
a run with a broken scratch layer finds the first step that disagrees, its layer and signature."""

import dataclasses
import json
import signal

import numpy as np
import pytest
import zoo

from reference.cli import main as cli
from reference.cli import train as train_cli
from reference.training import run as training
from reference.training.concurrent import ScratchProcess
from reference.training.run import DivergedError, RunConfig, TwinTraining
from reference.training.run_config import ConfigError
from reference.training.sides import ScratchSide
from scratch_nn import SGD, Linear

CONFIG = RunConfig(spec="784-16-16-10", lr=0.5, epochs=2, batch_size=32, dtype="float64")
STEPS_PER_EPOCH = 7  # the synthetic fixture's 200 training images in batches of 32


class TransposedFromStep10(zoo.LinearTransposedWeightGrad):
    """Right for its first 9 backward passes, then the zoo's transposed weight gradient: a bug
    that shows only later in a run (as one behind a condition would), so the step is found, not guessed."""

    correct_passes = 9

    def backward(self, grad_output):
        self.passes = getattr(self, "passes", 0) + 1
        if self.passes <= self.correct_passes:
            return Linear.backward(self, grad_output)
        return super().backward(grad_output)


def with_broken_layer(training_run: TwinTraining) -> TwinTraining:
    """Layer 2 (Linear 16 -> 16, square, so the transposed gradient fits its shape) replaced, same weights."""
    layer = training_run.network.layers[2]
    training_run.network.layers[2] = TransposedFromStep10(layer.params["weight"], layer.params["bias"])
    return training_run


def records_without_times(records):
    def clean(record):
        record = record.to_dict()
        for side in ("scratch", "torch"):
            record[side]["seconds"] = 0
        record["wall_seconds"] = 0
        return record
    return [clean(r) for r in records]


@pytest.mark.parametrize("settings", [{}, dict(optimizer="adam", lr=1e-2, dropout=0.3),
                                      dict(optimizer="momentum", lr=0.1, batch_norm=True, dropout=0.3)],
                         ids=["sgd", "adam-dropout", "momentum-batchnorm-dropout"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_two_processes_and_one_give_the_same_run_bit_for_bit(dtype, settings, synthetic):
    data = synthetic(dtype=np.dtype(dtype))
    config = dataclasses.replace(CONFIG, dtype=dtype, **settings)
    runs = {how: TwinTraining(config, concurrency=how) for how in ("process", "sequential")}
    records = {how: records_without_times(run.epochs(data)) for how, run in runs.items()}
    assert records["process"] == records["sequential"]
    saved = {how: run.checkpoint() for how, run in runs.items()}
    for side in ("scratch", "torch"):
        for key, value in getattr(saved["sequential"], side).items():
            np.testing.assert_array_equal(getattr(saved["process"], side)[key], value, strict=True)
    assert saved["process"].shuffler == saved["sequential"].shuffler
    assert saved["process"].generators == saved["sequential"].generators
    for side in ("scratch", "torch"):  # the scratch process's optimizer state came back with its network
        np.testing.assert_equal(saved["process"].optimizers[side], saved["sequential"].optimizers[side])


def test_the_scratch_process_ends_when_the_run_is_gone(synthetic):
    """Its only tie to the run is the pipe: when the run's end closes (the process killed, even by
    SIGKILL), the scratch process sees the end of the pipe and exits rather than wait forever."""
    network, _ = training.build_networks(CONFIG)
    data = synthetic()
    worker = ScratchProcess(ScratchSide(network, "cross_entropy", SGD(network, 0.5), data.train.images,
                                        data.train.labels),
                            {}, threads=1)
    worker.start_epoch([np.arange(32)])
    assert worker.finish_epoch().bad_step is None
    worker._connection.close()  # what the kernel does when the run's process dies
    worker._process.join(timeout=10)
    assert worker._process.exitcode == 0


def test_a_run_stopped_mid_epoch_stops_the_scratch_process_at_once(synthetic):
    """Ctrl-C (or a failure on the torch side) mid-epoch: the scratch process is terminated, not
    left to finish an epoch nobody will read."""
    network, _ = training.build_networks(CONFIG)
    data = synthetic()
    worker = ScratchProcess(ScratchSide(network, "cross_entropy", SGD(network, 0.5), data.train.images,
                                        data.train.labels),
                            {}, threads=1)
    worker.start_epoch([np.arange(32)] * 100_000)
    worker.close()
    assert worker._process.exitcode == -signal.SIGTERM


@pytest.mark.parametrize("concurrency", ["process", "sequential"])
def test_a_blow_up_names_the_same_step_and_side_either_way(concurrency, synthetic):
    config = RunConfig(spec="784-256-128-64-10", activation="relu", lr=0.5, epochs=3, dtype="float32")
    with pytest.raises(DivergedError) as error:
        list(TwinTraining(config, concurrency=concurrency).epochs(synthetic(dtype=np.float32)))
    assert (error.value.epoch, error.value.step, error.value.sides) == (1, 5, ["scratch", "torch"])


def test_a_correct_run_passes_lockstep_at_every_step(synthetic):
    data = synthetic()
    run = TwinTraining(CONFIG, lockstep=True)
    assert run.concurrency == "sequential"
    for record in run.epochs(data):
        d = record.divergence
        assert (d.lockstep_steps, d.lockstep_failed_steps) == (STEPS_PER_EPOCH, 0)
        assert 0 < d.lockstep_worst_ratio <= 1  # rounding is seen, and within the one-step tolerance
        assert len(d.lockstep_step_ratios) == STEPS_PER_EPOCH and max(d.lockstep_step_ratios) == d.lockstep_worst_ratio
    found = run.first_divergence(data)
    assert (found.found_by, found.steps_checked, found.step) == ("lockstep", 2 * STEPS_PER_EPOCH, None)
    assert "every one of the 14 steps checked (lockstep) agreed" in found.text


@pytest.mark.parametrize("lockstep, found_by", [(True, "lockstep"), (False, "replay")])
def test_a_broken_layer_is_found_at_its_step_layer_and_signature(lockstep, found_by, synthetic):
    data = synthetic()
    run = with_broken_layer(TwinTraining(CONFIG, lockstep=lockstep))
    records = list(run.epochs(data))
    # The drift and the per-epoch step check show it (the step check in process mode too: the run's
    # copy of the network is the scratch process's, layer state and all); lockstep and replay place it.
    assert not records[-1].divergence.within_tolerance and not records[-1].divergence.step_check_ok
    found = run.first_divergence(data)
    assert found.found_by == found_by
    assert (found.step, found.epoch, found.step_in_epoch) == (10, 2, 3)
    assert (found.part, found.name, found.signatures) == ("layer 2", "TransposedFromStep10",
                                                          ["transposed weight gradient"])
    assert found.failing == ["2.weight.grad"] and "2.weight" in found.tensors and found.ratio > 1
    assert found.text == ("step 10 (epoch 2, step 3 of 7): layer 2 (TransposedFromStep10): 2.weight.grad "
                          "disagrees; looks like the transposed weight gradient")
    if lockstep:
        assert [r.divergence.lockstep_failed_steps for r in records] == [0, 5]  # steps 10 to 14
        assert found.steps_checked == 14
    else:
        assert found.steps_checked == 10  # the replay stops at the first step that disagrees


def test_lockstep_needs_the_sides_in_one_process():
    with pytest.raises(ConfigError, match="^--concurrency 'process': --lockstep checks every scratch step"):
        TwinTraining(CONFIG, concurrency="process", lockstep=True)
    with pytest.raises(ConfigError, match="^--concurrency 'threads': choose one of process, sequential"):
        TwinTraining(CONFIG, concurrency="threads")


@pytest.fixture
def tiny_data(monkeypatch, synthetic):
    monkeypatch.setattr(train_cli, "load_dataset", lambda name, root, dtype, download: synthetic(dtype=dtype))


ARGS = ["--spec", "784-16-16-10", "--dtype", "float64", "--epochs", "2", "--no-progress"]


def test_compare_py_lockstep_proves_every_step(tiny_data, tmp_path, capsys):
    path = tmp_path / "run.json"
    assert cli.main([*ARGS, "--lockstep", "--json", str(path)]) == train_cli.EXIT_AGREE
    out = capsys.readouterr().out
    assert "every step checked in lockstep" in out and "the sides taking turns" in out
    assert "Lockstep: 14 of 14 steps, each from identical weights, agreed" in out
    run = json.loads(path.read_text())
    assert (run["timing"]["concurrency"], run["timing"]["lockstep"]) == ("sequential", True)
    assert run["first_divergence"]["step"] is None and run["first_divergence"]["steps_checked"] == 14


def test_compare_py_locates_a_broken_layer_in_a_free_running_run(tiny_data, monkeypatch, tmp_path, capsys):
    build = training.build_networks

    def broken(config, *adapted):
        network, model = build(config, *adapted)
        layer = network.layers[2]
        network.layers[2] = TransposedFromStep10(layer.params["weight"], layer.params["bias"])
        return network, model

    monkeypatch.setattr(training, "build_networks", broken)
    path = tmp_path / "run.json"
    assert cli.main([*ARGS, "--json", str(path)]) == train_cli.EXIT_DISAGREE
    out = capsys.readouterr().out
    assert "replaying the scratch side with a lockstep check" in out
    assert ("First divergence (replay): step 10 (epoch 2, step 3 of 7): layer 2 (TransposedFromStep10): "
            "2.weight.grad disagrees; looks like the transposed weight gradient.") in out
    found = json.loads(path.read_text())["first_divergence"]
    assert (found["step"], found["part"], found["signatures"]) == (10, "layer 2", ["transposed weight gradient"])


def test_compare_py_refuses_lockstep_in_two_processes(capsys):
    assert cli.main(["--lockstep", "--concurrency", "process"]) == train_cli.EXIT_BAD_INPUT
    assert "--concurrency 'process': --lockstep checks every scratch step" in capsys.readouterr().err
