"""compare.py from the command line: the report, its JSON and plot, presets, and clear failures."""

import json

import numpy as np
import pytest
import torch

from reference.cli import main as cli
from reference.cli import train as train_cli
from reference.training import run as training


@pytest.fixture
def tiny_data(monkeypatch, synthetic):
    """compare.py on a small synthetic dataset instead of MNIST, so the CLI tests take seconds."""
    monkeypatch.setattr(train_cli, "load_dataset", lambda name, root, dtype, download: synthetic(dtype=dtype))


def test_list_presets(capsys):
    assert cli.main(["--list-presets"]) == 0
    out = capsys.readouterr().out
    for name in ("paper-512-20", "paper-512-50", "paper-512-256", "paper-512-256-128", "paper-512-256-128-lr0.2",
                 "paper-128-lr1", "paper-128-lr1-75", "paper-512-20-relu", "paper-512-256-128-mixed-lr0.2",
                 "adam-128"):
        assert name in out


def test_report_json_and_plot(tiny_data, tmp_path, capsys):
    json_path, plot_path = tmp_path / "run.json", tmp_path / "run.png"
    code = cli.main(["--spec", "784-16-10", "--epochs", "2", "--dtype", "float64", "--no-progress",
                         "--json", str(json_path), "--plot", str(plot_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "scratch" in out and "torch" in out and "AGREE" in out and "Step check" in out
    run = json.loads(json_path.read_text())
    assert run["config"]["spec"] == "784-16-10" and run["config"]["dtype"] == "float64"
    assert run["status"] == "finished" and run["verdict"]["agree"] is True
    assert [e["epoch"] for e in run["epochs"]] == [1, 2]
    epoch = run["epochs"][0]
    assert set(epoch) == {"epoch", "scratch", "torch", "divergence", "wall_seconds"}
    assert set(epoch["scratch"]) == {"train_loss", "train_accuracy", "validation_accuracy", "test_accuracy", "seconds",
                                     "step_losses"}
    # every step's loss, on both sides: 200 examples in batches of 32 are 6 full steps and one of 8,
    # and the epoch's mean loss is their mean weighted by the batch sizes
    batch, sizes = run["config"]["batch_size"], [32] * 6 + [8]
    for side in ("scratch", "torch"):
        losses = epoch[side]["step_losses"]
        assert batch == 32 and len(losses) == 7
        assert np.average(losses, weights=sizes) == pytest.approx(epoch[side]["train_loss"], rel=1e-12)
    assert {"parameters", "worst_tensor", "worst_scaled_abs", "prediction_agreement", "train_loss_difference",
            "within_tolerance", "step_check_ok", "step_check_ratio", "lockstep_steps", "lockstep_failed_steps",
            "lockstep_worst_ratio", "lockstep_step_ratios"} == set(epoch["divergence"])
    assert epoch["divergence"]["lockstep_step_ratios"] == []  # not run in lockstep
    timing = run["timing"]
    assert (timing["concurrency"], timing["lockstep"], run["first_divergence"]) == ("process", False, None)
    assert timing["wall_seconds"] == pytest.approx(sum(e["wall_seconds"] for e in run["epochs"]))
    assert timing["wall_seconds"] > timing["torch_seconds"] > 0
    assert timing["wall_over_torch"] == pytest.approx(timing["wall_seconds"] / timing["torch_seconds"])
    assert timing["scratch_over_torch"] == pytest.approx(timing["scratch_seconds"] / timing["torch_seconds"])
    assert f"scratch/torch = {timing['scratch_over_torch']:.2f}" in out
    assert f"comparison/torch = {timing['wall_over_torch']:.2f}" in out
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_diverging_run_exits_3_and_keeps_what_it_has(tiny_data, tmp_path, capsys):
    json_path = tmp_path / "run.json"
    code = cli.main(["--spec", "784-256-128-64-10", "--activation", "relu", "--lr", "0.5", "--epochs", "3",
                         "--no-progress", "--json", str(json_path)])
    assert code == train_cli.EXIT_DIVERGED
    assert "training diverged" in capsys.readouterr().err
    run = json.loads(json_path.read_text())
    assert run["status"] == "diverged" and "Try a smaller learning rate" in run["error"]


def test_missing_data_is_one_clear_message(tmp_path, capsys):
    code = cli.main(["--data-root", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert code == train_cli.EXIT_BAD_INPUT
    assert "train-images-idx3-ubyte is missing" in err and str(tmp_path / "MNIST" / "raw") in err
    assert "--download" in err and "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_without_gpu_is_refused(capsys):
    assert cli.main(["--device", "cuda"]) == train_cli.EXIT_BAD_INPUT
    assert "torch sees no GPU here" in capsys.readouterr().err


def exit_status(argv) -> int:
    """cli.main's exit status, whether it returns it or argparse exits with it."""
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return exit_.code


@pytest.fixture
def no_data(monkeypatch):
    def load_dataset(*args, **kwargs):
        pytest.fail("the data was loaded before the options were checked")

    monkeypatch.setattr(train_cli, "load_dataset", load_dataset)


@pytest.fixture
def saved_run(tiny_data, tmp_path):
    """A checkpoint of a one-epoch run of 784-16-10 in float64."""
    path = tmp_path / "saved.npz"
    assert cli.main(["--spec", "784-16-10", "--dtype", "float64", "--epochs", "1", "--no-progress",
                         "--save", str(path)]) == 0
    return path


BAD_OPTIONS = [  # (options, a phrase the one-line message must contain); {tmp} is a fresh folder
    ("--spec 784", "layer sizes joined by '-'"), ("--spec 784-x-10", "layer sizes joined by '-'"),
    ("--spec 784--10", "layer sizes joined by '-'"), ("--spec 784-12.7-10", "layer sizes joined by '-'"),
    ("--spec 784-0-10", "at least 1"), ("--spec 700-128-10", "input size must be 784"),
    ("--spec 3x28x28-conv8k5-10", "a CNN's input must be 1x28x28"), ("--spec 1x28x28-conv8k5-pool2-5", "at least 10"),
    ("--spec 1x28x28-conv8k30-10", "smaller than its 30x30 window"), ("--spec 1x28x28-convx-10", "unknown layer"),
    ("--spec 1x28x28-conv8k5-pool2-120-10 --activation relu,relu,relu", "exactly 2 separated by commas"),
    ("--spec 784-128-5", "output size must be at least 10"),
    ("--activation softplus", "choose from leaky_relu, relu, sigmoid, softmax, tanh"),
    ("--activation relu,sigmoid", "one activation for all 1 hidden"),
    ("--output-activation softplus", "invalid choice"), ("--loss hinge", "invalid choice"),
    ("--loss probability_cross_entropy", "--output-activation None: --loss probability_cross_entropy takes "
                                         "probabilities: give --output-activation softmax"),
    ("--init xavier", "invalid choice"), ("--dtype float16", "invalid choice"), ("--dataset cifar", "invalid choice"),
    ("--preset nope", "invalid choice"), ("--no-such-option", "unrecognized arguments"),
    ("--batch-size 0", "--batch-size 0: must be a whole number of at least 1"), ("--batch-size -32", "at least 1"),
    ("--batch-size 3.5", "invalid int value"), ("--lr 0", "finite number above 0"), ("--lr -0.1", "above 0"),
    ("--lr nan", "finite number"), ("--lr inf", "finite number"), ("--lr 1e400", "finite number"),
    ("--lr fast", "invalid float value"), ("--epochs 0", "--epochs 0: must be"), ("--epochs -1", "at least 1"),
    ("--seed -1", "at least 0"), ("--seed 1.5", "invalid int value"), ("--threads 0", "at least 1"),
    ("--train-limit 0", "at least 1"), ("--train-limit -5", "at least 1"),
    ("--device tpu", "cpu, cuda, or cuda:N"), ("--device cuda:99", "--device 'cuda:99'"),
    ("--json {tmp}/missing/run.json", "does not exist"), ("--json {tmp}", "is a folder"),
    ("--plot {tmp}/run.jpg", "ending in .png"), ("--plot {tmp}/missing/run.png", "does not exist"),
    ("--save {tmp}/run.pkl", "ending in .npz"), ("--save {tmp}/run.npz --save-every 0", "--save-every 0"),
    ("--save-every 2", "with --save PATH.npz"), ("--resume {tmp}/missing.npz", "No such file"),
    ("--resume {tmp}/not.npz", "cannot be read as a checkpoint"),
    ("--optimizer lbfgs", "invalid choice"), ("--optimizer sgd --momentum 0.9", "does not apply to --optimizer sgd"),
    ("--momentum 0.9", "it is a setting of --optimizer momentum, nesterov, rmsprop"),
    ("--optimizer nesterov --dampening 0.1", "does not apply to --optimizer nesterov"),
    ("--optimizer adam --alpha 0.9", "does not apply"), ("--optimizer rmsprop --betas 0.9,0.99", "does not apply"),
    ("--optimizer sgd --amsgrad", "--amsgrad True: does not apply"), ("--centered", "--centered True: does not apply"),
    ("--optimizer momentum --momentum -1", "--momentum -1.0: SGD: momentum must be a number >= 0"),
    ("--optimizer momentum --dampening 2", "dampening must be a number in [0, 1]"),
    ("--optimizer nesterov --momentum 0", "nesterov needs momentum > 0"), ("--momentum x", "invalid float value"),
    ("--weight-decay -1", "weight_decay must be a number >= 0"), ("--optimizer adam --betas 0.9", "two numbers"),
    ("--optimizer adam --betas 0.9,1.0", "beta2 must be a number in [0, 1)"), ("--optimizer adamw --betas a,b", "two"),
    ("--optimizer adam --eps 0", "eps must be a positive number"), ("--optimizer rmsprop --alpha 1", "alpha must be"),
    ("--optimizer adam --lr 0", "finite number above 0"),
    ("--dropout 1", "--dropout 1.0: the drop probability p must be a number with 0 <= p < 1"),
    ("--dropout -0.1", "0 <= p < 1"), ("--dropout x", "invalid float value"),
    ("--batch-norm --batch-size 1", "--batch-size 1: with --batch-norm every batch needs at least 2 examples"),
    ("--batch-norm --train-limit 33", "33 training images in batches of 32 leave a last batch of 1"),
    ("--batch-norm --optimizer adam", "--optimizer 'adam': cannot be compared with --batch-norm"),
    ("--batch-norm --optimizer rmsprop", "use --optimizer sgd, momentum or nesterov with --batch-norm"),
    ("--implementation {tmp}/my_net.py --optimizer adam", "--optimizer 'adam': --implementation trains your own"),
    ("--implementation {tmp}/my_net.py --dropout 0.5", "--dropout 0.5: --implementation trains your own"),
]


@pytest.mark.parametrize("options, phrase", BAD_OPTIONS)
def test_bad_option_is_one_line_and_exit_2_before_any_data(options, phrase, no_data, tmp_path, capsys):
    (tmp_path / "not.npz").write_text("not a checkpoint")
    assert exit_status(options.format(tmp=tmp_path).split()) == train_cli.EXIT_BAD_INPUT
    out, err = capsys.readouterr()
    assert out == ""  # not even the table's header
    assert err.count("\n") == 1 and phrase in err and "Traceback" not in err, err


def test_resume_refuses_other_settings_naming_them(saved_run, no_data, capsys):
    argv = ["--resume", str(saved_run), "--epochs", "2", "--lr", "0.1", "--batch-size", "16"]
    assert exit_status(argv) == train_cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "--lr 0.1 (saved: 0.5)" in err and "--batch-size 16 (saved: 32)" in err and err.count("\n") == 1
    assert exit_status(["--resume", str(saved_run), "--epochs", "1"]) == train_cli.EXIT_BAD_INPUT
    assert "has already trained 1 epoch(s)" in capsys.readouterr().err


def test_resume_goes_on_with_the_saved_settings_and_epochs(saved_run, tmp_path, capsys):
    json_path = tmp_path / "run.json"
    assert cli.main(["--resume", str(saved_run), "--epochs", "2", "--no-progress", "--json", str(json_path)]) == 0
    run = json.loads(json_path.read_text())
    assert run["status"] == "finished" and [e["epoch"] for e in run["epochs"]] == [1, 2]
    assert run["config"]["spec"] == "784-16-10" and run["config"]["epochs"] == 2


def test_a_failure_is_recorded_as_failed_with_exit_4(tiny_data, monkeypatch, tmp_path, capsys):
    """An unexpected error after epoch 1: the JSON keeps epoch 1 and says what failed."""
    real_evaluate = training.evaluate

    def evaluate(epoch, *args):
        if epoch == 2:
            raise RuntimeError("out of cheese")
        return real_evaluate(epoch, *args)

    monkeypatch.setattr(training, "evaluate", evaluate)
    json_path = tmp_path / "run.json"
    code = cli.main(["--spec", "784-16-10", "--epochs", "3", "--no-progress", "--json", str(json_path)])
    assert code == train_cli.EXIT_FAILED
    run = json.loads(json_path.read_text())
    assert (run["status"], run["error"], run["error_type"]) == ("failed", "out of cheese", "RuntimeError")
    assert [e["epoch"] for e in run["epochs"]] == [1]


def test_a_plot_that_fails_keeps_the_json_and_the_verdict_and_exits_4(tiny_data, monkeypatch, tmp_path, capsys):
    def plot(run, path):
        raise RuntimeError("no fonts")

    monkeypatch.setattr(train_cli.figure, "plot", plot)
    json_path = tmp_path / "run.json"
    code = cli.main(["--spec", "784-16-10", "--epochs", "1", "--dtype", "float64", "--no-progress",
                         "--json", str(json_path), "--plot", str(tmp_path / "run.png")])
    out, err = capsys.readouterr()
    assert code == train_cli.EXIT_FAILED and "AGREE" in out and f"JSON written to {json_path}" in out
    assert "the plot could not be written to" in err and "(RuntimeError: no fonts)" in err
    assert json.loads(json_path.read_text())["status"] == "finished"


def test_help_lists_the_commands_and_exit_statuses(capsys):
    assert exit_status(["--help"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "check" in out
    for code in (train_cli.EXIT_AGREE, train_cli.EXIT_DISAGREE, train_cli.EXIT_BAD_INPUT, train_cli.EXIT_DIVERGED,
                 train_cli.EXIT_FAILED, train_cli.EXIT_INTERRUPTED, train_cli.EXIT_TERMINATED):
        assert f"\n  {code} " in out


def test_train_is_the_default_command(capsys):
    assert cli.main(["train", "--list-presets"]) == cli.main(["--list-presets"]) == 0


@pytest.mark.parametrize("argv,status", [
    (["check", "network", "--spec", "7-5-3", "--batch-size", "4"], 0),
    (["check", "network", "--lr", "0"], 2),
    (["check", "network", "--hidden", "4"], 2),
])
def test_check_is_a_subcommand_with_the_checkers_exit_statuses(argv, status, capsys):
    assert exit_status(argv) == status
    out, err = capsys.readouterr()
    assert (err.count("\n") == 1 and "error:" in err) if status == 2 else "agrees" in out
