"""A run with compare.py's optimizers and regularisation: every optimizer keeps the twins within the
float64 whole-run tolerance in both concurrency modes; dropout masks stay in step over several
epochs (and a skipped draw on one side breaks the run: the negative control); a wrong optimizer is
caught by the step check, which starts from the optimizer's state; and lockstep locates it."""

import dataclasses
import json

import pytest
import torch
import zoo_optimizers

from reference.cli import main as cli
from reference.cli import train as train_cli
from reference.regularization import generator_states
from reference.training.run import RunConfig, TwinTraining
from reference.training.run_config import ConfigError
from scratch_nn import OPTIMIZERS

# Small relu network, torch init: what the Adam preset trains, shrunk to seconds.
CONFIG = RunConfig(spec="784-16-10", activation="relu", init="torch", epochs=2, batch_size=32, dtype="float64")
LR = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 1e-2, "adamw": 1e-2, "rmsprop": 1e-3}
# Every hyperparameter set away from its default, once per optimizer.
SETTINGS = {
    "sgd": ["--weight-decay", "0.01"],
    "momentum": ["--momentum", "0.5", "--dampening", "0.3", "--weight-decay", "0.01"],
    "nesterov": ["--momentum", "0.8", "--weight-decay", "0.01"],
    "adam": ["--betas", "0.8,0.99", "--eps", "1e-6", "--amsgrad", "--weight-decay", "0.01"],
    "adamw": ["--betas", "0.8,0.99", "--eps", "1e-6", "--weight-decay", "0.05"],
    "rmsprop": ["--alpha", "0.9", "--eps", "1e-6", "--momentum", "0.5", "--centered", "--weight-decay", "0.01"],
}
CLASSES = {"sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}
MASKS = dataclasses.replace(CONFIG, epochs=3, dropout=0.3, batch_norm=True, optimizer="momentum", lr=0.05)


@pytest.fixture
def tiny_data(monkeypatch, synthetic):
    monkeypatch.setattr(train_cli, "load_dataset", lambda name, root, dtype, download: synthetic(dtype=dtype))


def compare_py(tmp_path, *options) -> dict:
    """compare.py train on the synthetic data, float64; exit 0 (the twins agree); its JSON."""
    path = tmp_path / "run.json"
    argv = ["--spec", CONFIG.spec, "--activation", "relu", "--init", "torch", "--dtype", "float64", "--epochs", "2",
            "--no-progress", "--json", str(path), *options]
    assert cli.main(argv) == train_cli.EXIT_AGREE
    return json.loads(path.read_text())


def assert_agree(records) -> None:
    for record in records:
        d = record["divergence"] if isinstance(record, dict) else record.divergence.__dict__
        assert d["within_tolerance"] and d["step_check_ok"] and d["prediction_agreement"] == 1.0, d


@pytest.mark.parametrize("concurrency", ["process", "sequential"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_keeps_the_twins_together(name, concurrency, tiny_data, tmp_path, capsys):
    run = compare_py(tmp_path, "--optimizer", name, "--lr", str(LR[name]), "--concurrency", concurrency,
                     *SETTINGS[name])
    assert run["config"]["optimizer"] == name
    assert_agree(run["epochs"])
    assert run["epochs"][-1]["scratch"]["train_loss"] < run["epochs"][0]["scratch"]["train_loss"]  # it learns
    assert f"optimizer {CLASSES[name]}(lr={LR[name]}," in capsys.readouterr().out  # the report says which


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_both_sides_get_the_same_hyperparameters(name):
    argv = ["train", "--optimizer", name, "--lr", str(LR[name]), *SETTINGS[name]]
    args = cli.build_parser(argv).parse_args(argv)
    run = TwinTraining(train_cli.config_from(args, None).validate())
    ours, theirs = run.optimizer.param_group(), run.twin_optimizer.param_groups[0]
    assert len(SETTINGS[name]) > 1
    for key, value in ours.items():
        assert theirs[key] == (list(value) if key == "betas" and isinstance(theirs[key], list) else value), key


@pytest.mark.parametrize("concurrency", ["process", "sequential"])
def test_dropout_masks_stay_in_step_over_epochs(concurrency, synthetic):
    """Same generators on both sides, each drawing one mask per training-mode forward call: after
    three epochs (and the evaluations between them, in evaluation mode: no draws) both are in the
    same state, and the runs agree throughout. With batch norm, whose statistics come along too."""
    data = synthetic()
    run = TwinTraining(MASKS, concurrency=concurrency)
    start = generator_states(run.network.layers)
    assert_agree(run.epochs(data))
    scratch, twin = generator_states(run.network.layers), generator_states(run.model)
    assert scratch == twin and scratch.keys() == start.keys() == {3}  # Linear, BatchNorm1d, ReLU, Dropout
    assert scratch != start  # masks were drawn
    assert run.network.layers[1].buffers["num_batches_tracked"] == 3 * 7  # 200 images in batches of 32


@pytest.mark.parametrize("concurrency", ["process", "sequential"])
def test_one_extra_mask_draw_on_one_side_breaks_the_run(concurrency, synthetic):
    """Negative control: a forward call in training mode on the torch side only (what evaluating
    without eval() does) puts its masks one draw ahead: the parameters drift past the tolerance."""
    data = synthetic()
    run = TwinTraining(dataclasses.replace(MASKS, batch_norm=False), concurrency=concurrency)
    run.model(torch.from_numpy(data.train.images[:5]))
    records = list(run.epochs(data))
    assert not any(record.divergence.within_tolerance for record in records)
    assert generator_states(run.network.layers) != generator_states(run.model)


@pytest.mark.parametrize("broken", [zoo_optimizers.AdamWithoutBiasCorrection, zoo_optimizers.AdamStateResetEveryStep])
def test_the_step_check_judges_the_optimizer_from_its_state(broken, synthetic):
    """A broken Adam on the scratch side: the step check, a step of the run's optimizer from a copy of
    its state on both sides, fails (AdamStateResetEveryStep's first step is right: only its state is wrong)."""
    run = TwinTraining(dataclasses.replace(CONFIG, optimizer="adam", lr=1e-2), concurrency="sequential")
    run.optimizer = broken(run.network, lr=1e-2)
    records = list(run.epochs(synthetic()))
    assert not any(record.divergence.step_check_ok for record in records)


def test_lockstep_with_adam_and_dropout_agrees_at_every_step(synthetic):
    data = synthetic()
    run = TwinTraining(dataclasses.replace(CONFIG, optimizer="adam", lr=1e-2, dropout=0.3), lockstep=True)
    records = list(run.epochs(data))
    assert [(r.divergence.lockstep_steps, r.divergence.lockstep_failed_steps) for r in records] == [(7, 0), (7, 0)]
    assert run.first_divergence(data).step is None


@pytest.mark.parametrize("lockstep", [True, False])
def test_lockstep_and_replay_name_a_broken_optimizer(lockstep, synthetic):
    data = synthetic()
    run = TwinTraining(dataclasses.replace(CONFIG, optimizer="adam", lr=1e-2), lockstep=lockstep,
                       concurrency="sequential")
    run.optimizer = zoo_optimizers.AdamStateResetEveryStep(run.network, lr=1e-2)
    list(run.epochs(data))
    found = run.first_divergence(data)
    assert (found.step, found.part, found.name) == (2, "optimizer", "AdamStateResetEveryStep"), found.text
    assert "state reset every step" in found.signatures  # gradcheck, on the run's optimizer from its state


@pytest.mark.parametrize("concurrency", ["process", "sequential"])
@pytest.mark.parametrize("options", [["--optimizer", "adam", "--lr", "1e-2"],
                                     ["--optimizer", "momentum", "--lr", "0.05", "--dropout", "0.3", "--batch-norm"]],
                         ids=["adam", "momentum-dropout-batchnorm"])
def test_a_cnn_keeps_the_twins_together(options, concurrency, tiny_data, tmp_path, capsys):
    """A CNN spec through compare.py: convolutions and pools before the dense layers (which the
    regularisation goes after), both sides agreeing in float64."""
    run = compare_py(tmp_path, "--spec", "1x28x28-conv3k5s2-pool2-16-10", "--concurrency", concurrency, *options)
    assert_agree(run["epochs"])
    compared = run["epochs"][0]["divergence"]["parameters"]  # 1: the convolution; 6: batch norm after Linear 5
    assert "1.weight" in compared and ("6.running_mean" in compared) == ("--batch-norm" in options)


def test_batch_norm_refuses_a_last_batch_of_one(synthetic):
    """validate() assumes the full 50,000 images; the data's own size is checked when training starts."""
    run = TwinTraining(dataclasses.replace(MASKS, batch_size=199))  # 200 synthetic images: 199 + 1
    with pytest.raises(ConfigError, match="^--batch-size 199: with --batch-norm every batch needs at least 2"):
        next(run.epochs(synthetic()))
