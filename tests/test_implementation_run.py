"""compare.py --implementation: the user's own network (tests/implementations/textbook.py, with the
build of implementations/submissions.py) trained against torch from the same weights; a mistake
drifts and fails the step check; a file that cannot be used is one line and exit 2, before any data."""

import json
import pickle

import numpy as np
import pytest
from implementations.submissions import source, write

import scratch_nn
from reference.cli import main as cli
from reference.cli import train as train_cli
from reference.training.run import TwinTraining
from reference.training.run_config import RunConfig

SETTINGS = dict(spec="784-32-10", activation="relu", init="torch", dtype="float64", lr=0.1, epochs=1)


def first_epoch(path, synthetic):
    """The first EpochRecord of a one-epoch run of the implementation at path, on 320 synthetic images."""
    training = TwinTraining(RunConfig(**SETTINGS, implementation=f"{path}:build"))
    return next(training.epochs(synthetic(n_train=320, seed=1)))


def test_both_sides_start_from_the_runs_weights_through_the_users_arrays(tmp_path):
    network = TwinTraining(RunConfig(**SETTINGS, implementation=str(write(tmp_path, "net.py", "textbook")))).network
    expected = scratch_nn.build_network("784-32-10", "relu", init="torch", seed=0, dtype=np.float64).state_dict()
    for key, value in network.state_dict().items():
        np.testing.assert_array_equal(value, expected[key])
    network.forward(np.zeros((2, 784)))  # the params go into the user's own arrays at every call
    np.testing.assert_array_equal(network.layers[0].user.weights, expected["0.weight"].T)  # stored (in, out)


def test_the_adapted_network_and_loss_survive_pickling(tmp_path):
    """As a run that trains the scratch side in a process of its own sends them back."""
    training = TwinTraining(RunConfig(**SETTINGS, implementation=str(write(tmp_path, "net.py", "textbook"))))
    network, loss = training.network, training.loss
    x, labels = np.random.default_rng(0).random((4, 784)), np.arange(4)
    copies = pickle.loads(pickle.dumps((network, loss)))
    assert [type(layer).__name__ for layer in copies[0].layers] == ["Linear", "ReLU", "Linear"]
    np.testing.assert_array_equal(copies[0].forward(x), network.forward(x))
    assert copies[1].forward(copies[0].forward(x), labels) == loss.forward(network.forward(x), labels)


COUNTED_BUILD = '''
counted = build


def build(sizes, activations, lr, seed):
    with open(__file__ + ".builds", "a") as builds:  # the run may call it from any process: a file counts
        builds.write("build\\n")
    return counted(sizes, activations, lr, seed)
'''


@pytest.mark.parametrize("concurrency, lockstep", [("sequential", True), ("process", False)])
def test_the_users_build_runs_once_a_run(tmp_path, synthetic, concurrency, lockstep):
    """The network and the loss are built once and passed down: the start, the step check of every
    epoch's evaluation, the lockstep check and a replay all use that one loss, not a fresh build."""
    path = write(tmp_path, "net.py", "textbook")
    path.write_text(path.read_text() + COUNTED_BUILD)
    training = TwinTraining(RunConfig(**{**SETTINGS, "epochs": 2}, implementation=f"{path}:build"),
                            concurrency=concurrency, lockstep=lockstep)
    data = synthetic(n_train=96, seed=1)
    records = list(training.epochs(data))
    training.first_divergence(data)  # a replay of both epochs without lockstep; the run's own check with it
    assert len(records) == 2 and all(record.divergence.step_check_ok for record in records)
    assert (tmp_path / "net.py.builds").read_text().splitlines() == ["build"]


def test_textbook_implementation_trains_as_torch_does(tmp_path, synthetic):
    """float64, one epoch of 10 steps: the parameters within TRAINING_RUN_FLOAT64 and every step check passes."""
    record = first_epoch(write(tmp_path, "net.py", "textbook"), synthetic)
    assert record.divergence.within_tolerance and record.divergence.step_check_ok, record.divergence
    assert record.scratch.train_loss == pytest.approx(record.torch.train_loss, rel=1e-12)


def test_a_mistake_drifts_and_fails_the_step_check(tmp_path, synthetic):
    record = first_epoch(write(tmp_path, "net.py", "textbook", "Linear = LinearBiasAveraged"), synthetic)
    assert not record.divergence.within_tolerance and not record.divergence.step_check_ok


@pytest.fixture
def tiny_data(monkeypatch, synthetic):
    monkeypatch.setattr(train_cli, "load_dataset", lambda name, root, dtype, download: synthetic(dtype=dtype))


LAYERS_ONLY = "\ndef layers_only(sizes, activations, lr, seed):\n    return build(sizes, activations, lr, seed)[0]\n"


@pytest.mark.parametrize("changes, target, status", [
    ("", "build", train_cli.EXIT_AGREE),
    ("Linear = LinearBiasAveraged", "build", train_cli.EXIT_DISAGREE),
    (LAYERS_ONLY, "layers_only", train_cli.EXIT_AGREE),  # no loss of its own: scratch_nn's --loss
])
def test_command_line_run_prints_the_conventions_and_writes_the_json(changes, target, status, tiny_data, tmp_path,
                                                                     capsys):
    path = tmp_path / "net.py"
    path.write_text(source("textbook", changes))
    options = [f"--{key.replace('_', '-')}={value}" for key, value in SETTINGS.items()]
    code = cli.main([*options, "--implementation", f"{path}:{target}", "--no-progress",
                         "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert code == status, out
    assert "Conventions found" in out and "stored (in, out)" in out and "loss: " in out
    assert ("scratch_nn's SoftmaxCrossEntropy (--loss cross_entropy) is used" in out) == (target != "build"), out
    assert json.loads((tmp_path / "r.json").read_text())["config"]["implementation"] == f"{path}:{target}"


BAD = [  # (file name, its text, the target after the folder, a phrase of the one-line message)
    (None, None, "missing.py:build", "no such file"),
    ("net.txt", source("textbook"), "net.txt:build", "is not a Python file"),
    ("net.py", source("textbook"), "net.py:make", "defines no make"),
    ("net.py", "import cupy_is_missing\n", "net.py", "raised ModuleNotFoundError"),
    ("net.py", "import sys\nsys.exit(1)\n", "net.py", "called sys.exit(1)"),
    ("net.py", source("textbook") + "\ndef odd(sizes, hidden):\n    pass\n", "net.py:odd", "requires hidden"),
    ("net.py", source("textbook", "ReLU = None"), "net.py", "raised TypeError"),
    ("net.py", source("textbook") + "\ndef flat(sizes, lr):\n    return [Linear(784, 10, lr)], CrossEntropy()\n",
     "net.py:flat", "returned the layers linear; the run's network is linear, relu, linear"),
    ("net.py", source("textbook") + "\ndef fixed(sizes, activations, seed):\n    return build(sizes, activations, "
     "0.05, seed)\n", "net.py:fixed", "give --lr 0.05"),
]


@pytest.mark.parametrize("name, text, target, phrase", BAD, ids=[b[3] for b in BAD])
def test_an_implementation_that_cannot_be_used_is_one_line_and_exit_2(name, text, target, phrase, tmp_path,
                                                                     monkeypatch, capsys):
    monkeypatch.setattr(train_cli, "load_dataset", lambda *a, **k: pytest.fail("the data was loaded"))
    if name:
        (tmp_path / name).write_text(text)
    options = [f"--{key.replace('_', '-')}={value}" for key, value in SETTINGS.items()]
    assert cli.main([*options, "--implementation", str(tmp_path / target)]) == train_cli.EXIT_BAD_INPUT
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and phrase in err and "Traceback" not in err, err
