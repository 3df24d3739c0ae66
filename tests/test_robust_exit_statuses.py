"""Each documented exit status of train, check and grade, one test each: the status means one thing,
and a crash of the tool itself is never 1 (which says that the code compared disagrees)."""

import os
import stat

import pytest
from implementations.submissions import write

from reference.cli import check as check_cli
from reference.cli import check_own_code
from reference.cli import main as cli
from reference.cli import train as train_cli
from reference.cli.common import Terminated
from reference.training import run as training
from scratch_nn import Linear

TRAIN = ["--spec", "784-8-10", "--epochs", "1", "--no-progress", "--concurrency", "sequential"]

CHECK = ["check", "layer", "scratch_nn.layers:Linear"]


@pytest.fixture
def tiny_data(monkeypatch, synthetic):
    monkeypatch.setattr(train_cli, "load_dataset", lambda name, root, dtype, download: synthetic(dtype=dtype))


class BiasGradientHalved(Linear):
    def backward(self, grad):
        out = super().backward(grad)
        self.grads["bias"] = self.grads["bias"] / 2
        return out


def raising(error):
    def raise_it(*args, **kwargs):
        raise error
    return raise_it


def full_device(tmp_path):
    """A /dev/full: every write fails (made in tmp_path as root, else the system's)."""
    if os.geteuid() != 0:
        return "/dev/full"
    path = tmp_path / "full"
    os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    return str(path)


BUILD = training.build_networks


def broken_networks(config, *adapted):
    """The run's networks, the scratch side's first layer halving its bias gradient: the twins drift."""
    network, model = BUILD(config, *adapted)
    layer = network.layers[0]
    network.layers[0] = BiasGradientHalved(layer.params["weight"], layer.params["bias"])
    return network, model


def train_cases():
    return {
        0: ([], None),
        1: (["--epochs", "2"], ("build_networks", broken_networks)),
        2: (["--lr", "0"], None),
        3: (["--spec", "784-256-128-64-10", "--activation", "relu", "--lr", "50"], None),
        4: ([], ("evaluate", raising(RuntimeError("a bug")))),
        130: ([], ("evaluate", raising(KeyboardInterrupt()))),
        143: ([], ("evaluate", raising(Terminated()))),
    }


@pytest.mark.parametrize("status", train_cases())
def test_train(status, tiny_data, monkeypatch):
    options, patch = train_cases()[status]
    if patch:
        monkeypatch.setattr(training, *patch)
    assert cli.main([*TRAIN, *options]) == status


def test_train_output_that_cannot_be_written_is_4(tiny_data, tmp_path):
    assert cli.main([*TRAIN, "--json", full_device(tmp_path)]) == train_cli.EXIT_FAILED


def test_a_crash_before_training_is_4_not_1(tiny_data, monkeypatch, capsys):
    monkeypatch.setattr(train_cli.report, "describe_run", raising(RuntimeError("a bug")))
    assert cli.main(TRAIN) == train_cli.EXIT_FAILED
    assert "stopped by the unexpected error above (exit status 4)" in capsys.readouterr().err


CHECK_CASES = {
    0: (CHECK, None),
    1: (["check", "layer", f"{__file__}:BiasGradientHalved"], None),
    2: (["check", "layer", "no_such_module:Linear"], None),
    130: (CHECK, raising(KeyboardInterrupt())),
    143: (CHECK, raising(Terminated())),
}


@pytest.mark.parametrize("status", CHECK_CASES)
def test_check(status, monkeypatch):
    options, patch = CHECK_CASES[status]
    if patch:
        monkeypatch.setattr(check_own_code, "check_layer_file", patch)  # the check layer runs
    assert cli.main(options) == status


def test_check_json_that_cannot_be_written_is_4(tmp_path):
    assert cli.main([*CHECK, "--json", full_device(tmp_path)]) == check_cli.EXIT_OUTPUT_FAILED == 4


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    passing, failing = tmp_path_factory.mktemp("passing"), tmp_path_factory.mktemp("failing")
    write(passing, "textbook.py", "textbook", "")
    write(failing, "bias_averaged.py", "textbook", "Linear = LinearBiasAveraged")
    return {0: passing, 1: failing}


@pytest.mark.parametrize("status", [0, 1])
def test_grade_by_its_submissions(status, submissions):
    assert cli.main(["grade", str(submissions[status]), "--timeout", "60"]) == status


def test_grade_with_nothing_to_grade_is_2(tmp_path):
    assert cli.main(["grade", str(tmp_path)]) == 2


def test_grade_json_that_cannot_be_written_is_4(submissions, tmp_path):
    assert cli.main(["grade", str(submissions[0]), "--timeout", "60", "--json", full_device(tmp_path)]) == 4
