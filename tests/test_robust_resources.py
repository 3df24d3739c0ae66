"""Resources are checked before any work: a spec that cannot be built, or whose memory exceeds the
machine's (or --max-memory), is refused by validation with the number; a data file that is not a
regular file (a FIFO, which would block the read forever) is refused."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import scratch_nn
from reference import memory
from reference.cli import main as cli
from reference.cli import train as train_cli

REPOSITORY = Path(__file__).parent.parent


@pytest.fixture
def no_data(monkeypatch):
    def load(*args):
        raise AssertionError("the data was loaded for a run that cannot start")

    monkeypatch.setattr(train_cli, "load_dataset", load)


@pytest.mark.parametrize("spec, problem", [
    ("1x28x28-conv0k5-10", "the layer conv0k5 gives no output"),
    ("1x28x28-conv8k0-10", "the layer conv8k0 has a kernel of 0"),
    ("1x28x28-conv8k3s1p0-conv4k2x0-10", "the layer conv4k2x0 has a kernel of 0"),
    ("1x28x28-pool0-10", "MaxPool2d needs a kernel size"),
    ("784-100000000-10", "TiB of memory, more than this machine's"),
    ("1x28x28-conv8k5-100000000-10", "TiB of memory, more than this machine's"),
])
def test_a_spec_that_cannot_run_is_refused_before_the_data(spec, problem, no_data, capsys):
    assert cli.main(["--spec", spec, "--epochs", "1"]) == train_cli.EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert error.startswith(f"compare.py train: error: --spec {spec!r}: ") and problem in error
    assert error.count("\n") == 1


def test_max_memory_refuses_a_run_with_its_estimate(no_data, capsys):
    assert cli.main(["--spec", "784-128-10", "--max-memory", "100M"]) == train_cli.EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert "needs about" in error and "more than --max-memory 100 MiB" in error


def test_the_estimate_bounds_what_was_measured():
    """784-20000-10 float32 with Adam and --save measured a peak of 5.0 GiB on 64 images (reference.memory):
    the bound, made for MNIST's 70,000 images and its evaluation, is above it; it counts every weight."""
    spec = scratch_nn.Spec((784,), (20000, 10), ())
    assert memory.layer_shapes(spec) == (784 * 20000 + 20000 + 20000 * 10 + 10, [20000, 10])
    assert memory.training_bytes(spec, 4, 70_000, 5_000) > 5.0 * 2**30


@pytest.mark.parametrize("options", [["layer", "scratch_nn.layers:Linear", "--in", "100000000"],
                                     ["network", "--spec", "784-100000000-10"],
                                     ["layer", "scratch_nn.layers:Linear", "--max-memory", "1M"]])
def test_check_refuses_a_check_larger_than_the_memory(options, capsys):
    assert cli.main(["check", *options]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"compare.py check {options[0]}: error: the check needs about ") and \
        "of memory, more than" in error


def test_a_fifo_among_the_data_files_is_refused_not_read(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    os.mkfifo(raw / "train-images-idx3-ubyte")
    result = subprocess.run([sys.executable, "compare.py", "train", "--data-root", str(tmp_path), "--epochs", "1"],
                            cwd=REPOSITORY, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == train_cli.EXIT_BAD_INPUT
    assert f"train-images-idx3-ubyte in {raw} is a FIFO (named pipe): the data must be regular files" in result.stderr


def test_a_network_torch_cannot_run_is_refused_by_validation(no_data, monkeypatch, capsys):
    """Whatever the shapes allow, the networks are built and run on both sides before the data: a
    failure of either (here torch's, as oneDNN refuses a convolution) is one line, exit 2."""
    import reference.twin

    def refusing(network, **kwargs):
        raise RuntimeError("could not create a primitive descriptor\nfor the convolution")

    monkeypatch.setattr(reference.twin, "torch_model", refusing)
    assert cli.main(["--spec", "1x28x28-conv8k5-10", "--epochs", "1"]) == train_cli.EXIT_BAD_INPUT
    assert capsys.readouterr().err == ("compare.py train: error: --spec '1x28x28-conv8k5-10': cannot be built and run "
                                       "on both sides: could not create a primitive descriptor\n")
