"""The whole-network check (reference.gradcheck.whole_network, compare.py check whole-network) on three
monolithic styles in tests/implementations: Nielsen's network.py (nielsen.py), CS231n's TwoLayerNet
(cs231n.py) and a student's W1/b1 class with forward/backward (student_network.py). Each correct
network passes in float64 with the conventions it has found; each mutant is caught at the
parameter it breaks and named; ambiguity stops with exit 2 naming the flag; the user's object
is left bit for bit as it was."""

import copy
from pathlib import Path

import numpy as np
import pytest
from implementations import cs231n, nielsen, student_network

from reference.adapters.probing import ConventionError
from reference.cli import main as cli
from reference.gradcheck import check_whole_network

FOLDER = Path(__file__).parent / "implementations"
SIZES = (12, 7, 5)  # no square layer, and a batch (8) of neither width


def build(cls):
    return cls(list(SIZES)) if issubclass(cls, nielsen.Network) else cls(*SIZES)


def run(capsys, *argv):
    status = cli.main(["check", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("cls, found", [
    (nielsen.Network, dict(layout="out_in", bias_shape="column", batching="example", forward="feedforward",
                           gradients="backprop", targets="one_hot", activations=("sigmoid", "sigmoid"),
                           loss="quadratic", reduction="mean", update="update_mini_batch", update_lr="eta")),
    (cs231n.TwoLayerNet, dict(layout="in_out", bias_shape="flat", batching="rows", forward="loss", gradients="loss",
                              targets="labels", activations=("relu", "none"), loss="cross_entropy",
                              reduction="mean", update="train_step", update_lr="learning_rate")),
], ids=["nielsen", "cs231n"])
def test_correct_network_agrees_with_the_conventions_found(cls, found):
    report = check_whole_network(build(cls))
    assert report.ok, report.table()
    assert {key: report.conventions[key] for key in found} == found
    assert [part.label for part in report.parts] == ["forward", "layer 1", "layer 0", "optimizer"]
    assert all(part.finite_differences is not None for part in report.parts if part.kind == "layer")


# (mutant, the first part that disagrees, its failing tensors, the mistake named there (None: none fits),
#  the parts that must still agree)
MUTANTS = [
    (nielsen.DerivativeAtActivation, "layer 1", ["1.weight.grad", "1.bias.grad"], "derivative at the output", []),
    (nielsen.OutputDeltaWithoutDerivative, "layer 1", ["1.weight.grad", "1.bias.grad"], "output derivative missing",
     ["forward"]),
    (nielsen.ActivationIndexOffByOne, "layer 0", ["0.weight.grad"], None, ["forward", "layer 1"]),
    (nielsen.UpdateWithoutAveraging, "optimizer", ["0.weight", "0.bias", "1.weight", "1.bias"],
     "update by the sum over the batch", ["forward", "layer 1", "layer 0"]),
    (cs231n.ReLUMaskForgotten, "layer 0", ["0.weight.grad", "0.bias.grad"], "activation derivative missing",
     ["forward", "layer 1"]),
    (cs231n.GradientsSummed, "layer 1", ["1.weight.grad", "1.bias.grad"], "batch size too big", ["forward"]),
    (cs231n.SecondWeightTransposed, "layer 1", ["1.weight.grad"], "transposed weight gradient",
     ["forward", "layer 0"]),
    (cs231n.BiasGradientAveraged, "layer 1", ["1.bias.grad"], "bias gradient averaged", ["forward", "layer 0"]),
]


@pytest.mark.parametrize("mutant, where, tensors, mistake, agreeing", MUTANTS, ids=[m[0].__name__ for m in MUTANTS])
def test_mutant_is_caught_at_its_parameter_and_named(mutant, where, tensors, mistake, agreeing):
    report = check_whole_network(build(mutant))
    first = report.first_failure
    assert first is not None and first.label == where, report.table()
    assert first.failing == tensors
    if mistake is not None:
        assert mistake in first.signatures, first.summary()
    if first.kind == "layer":  # the finite differences of the network's own loss side with torch
        assert {d.name for d in first.finite_differences.failures} == set(tensors)
    parts = {part.label: part for part in report.parts}
    assert all(parts[label].ok for label in agreeing), report.table()


def test_every_convention_can_be_stated_instead():
    stated = dict(weights=["params.W1", "params.W2"], biases=["params.b1", "params.b2"], layout="in_out",
                  bias_shape="flat", batching="rows", forward="loss", activation="relu", output_activation="none",
                  gradient_method="loss", gradient_call="data", targets="labels", cost="cross_entropy",
                  reduction="mean", update="none")
    report = check_whole_network(build(cs231n.TwoLayerNet), **stated)
    assert report.ok, report.table()
    assert report.conventions["weights"] == ("params.W1", "params.W2") and report.conventions["update"] is None
    assert [part.kind for part in report.parts] == ["forward", "layer", "layer"]  # update="none": no step
    with pytest.raises(ValueError, match="layout='sideways'"):
        check_whole_network(build(cs231n.TwoLayerNet), layout="sideways")


def test_the_update_reuses_the_gradients_and_says_so_when_they_disagree():
    part = check_whole_network(build(nielsen.DerivativeAtActivation)).parts[-1]
    assert part.kind == "optimizer" and "which disagree above" in part.description


def test_user_network_is_unchanged_bit_for_bit():
    for net in (build(nielsen.Network), build(cs231n.TwoLayerNet), build(student_network.MLP)):
        before = copy.deepcopy(vars(net))
        held = {name: value for name, value in vars(net).items()}
        check_whole_network(net, **({"cost": "quadratic"} if isinstance(net, student_network.MLP) else {}))
        assert vars(net).keys() == before.keys()
        for name, value in vars(net).items():
            assert value is held[name]  # the same objects: the check worked on a copy
            for got, was in zip(_arrays(value), _arrays(before[name]), strict=True):
                assert got.tobytes() == was.tobytes() and got.dtype == was.dtype and got.shape == was.shape


def _arrays(value):
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, dict):
        return [v for key in sorted(value) for v in _arrays(value[key])]
    if isinstance(value, list):
        return [v for item in value for v in _arrays(item)]
    return []


def test_cost_nobody_names_stops_and_the_flag_settles_it(capsys):
    with pytest.raises(ConventionError, match="give cost="):
        check_whole_network(build(student_network.MLP))
    where = f"{FOLDER / 'student_network.py'}:MLP"
    status, out, err = run(capsys, "whole-network", where, "--spec", "12-7-5")
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "--cost" in err and "cost=" not in err
    status, out, err = run(capsys, "whole-network", where, "--spec", "12-7-5", "--cost", "quadratic")
    assert status == 0, out + err
    assert "gradients: forward(X), then backward(y)" in out


def test_command_line_on_each_style(capsys):
    status, out, _ = run(capsys, "whole-network", f"{FOLDER / 'nielsen.py'}:Network", "--spec", "12-7-5")
    assert status == 0 and out.startswith("Conventions found") and "update_mini_batch" in out
    status, out, _ = run(capsys, "whole-network", f"{FOLDER / 'cs231n.py'}:ReLUMaskForgotten", "--spec", "12-7-5")
    assert status == 1 and "FIRST DISAGREEMENT: layer 0" in out and "activation derivative missing" in out


def test_a_wrong_flag_is_not_taken_on_trust(capsys):
    """A stated activation the forward pass does not compute stops the check, naming the flags."""
    status, out, err = run(capsys, "whole-network", f"{FOLDER / 'nielsen.py'}:Network", "--spec", "12-7-5",
                           "--activation", "relu")
    assert status == 2 and "--activation" in err and "--output-activation" in err


def test_flags_of_other_checks_are_refused(capsys):
    status, _, err = run(capsys, "whole-network", f"{FOLDER / 'nielsen.py'}:Network", "--loss", "mse")
    assert status == 2 and "unrecognized arguments: --loss" in err
    status, _, err = run(capsys, "network", "--spec", "12-7-5", "--cost", "quadratic")
    assert status == 2 and "unrecognized arguments: --cost" in err


@pytest.mark.parametrize("argv, flag", [
    (["--weight", "W"], "--weight"),
    (["--backward", "grad"], "--backward"),
    (["--dtype", "float32"], "--dtype"),  # the check is float64 throughout
    (["--optimizer-steps", "3"], "--optimizer-steps"),  # one step of the network's own update
    (["--momentum", "0.9"], "--momentum"),
    (["--betas", "0.8", "0.9"], "--betas"),
    (["--in", "5"], "--in"),
    (["--dropout-p", "0.5"], "--dropout-p"),
    (["--kernel", "3"], "--kernel"),
])
def test_options_a_network_does_not_take_are_refused_in_one_line(argv, flag, capsys):
    status, out, err = run(capsys, "whole-network", f"{FOLDER / 'nielsen.py'}:Network", "--spec", "12-7-5", *argv)
    assert status == 2 and out == "" and err.count("\n") == 1, err
    assert f"unrecognized arguments: {flag}" in err, err


def test_the_options_a_network_takes_are_taken(capsys):
    status, out, err = run(capsys, "whole-network", f"{FOLDER / 'nielsen.py'}:Network", "--spec", "12-7-5",
                           "--batch-size", "4", "--lr", "0.5", "--seed", "3", "--fd-samples", "5", "--init", "paper",
                           "--forward", "feedforward", "--layout", "out_in", "--update", "update_mini_batch")
    assert status == 0 and "batch size 4" in out and "eta=0.5" in out, out + err


class CalledMLP:
    """student_network's MLP whose forward is __call__: net(X), then backward(y)."""
    __init__ = student_network.MLP.__init__
    __call__ = student_network.MLP.forward
    backward = student_network.MLP.backward
    step = student_network.MLP.step


def test_a_network_whose_forward_is_call_is_found(tmp_path, capsys):
    report = check_whole_network(CalledMLP(*SIZES), cost="quadratic")
    assert report.ok and report.conventions["forward"] == "__call__", report.table()
    assert report.conventions["gradients"] == "backward"
    path = tmp_path / "called.py"
    path.write_text("from implementations.student_network import MLP\n\n\nclass CalledMLP:\n"
                    "    __init__, __call__, backward, step = MLP.__init__, MLP.forward, MLP.backward, MLP.step\n")
    status, out, err = run(capsys, "whole-network", f"{path}:CalledMLP", "--spec", "12-7-5", "--cost", "quadratic")
    assert status == 0 and "__call__" in out, out + err
