"""Layers and losses whose methods are not named forward and backward (tests/implementations/method_names.py):
`compare.py check layer` and `--implementation` find which method is which by experiment, print it in the
conventions block, agree with torch where the code is right and catch each mistake at its part; two candidate
methods that disagree stop with exit 2 naming the flag that settles it; --forward-method and --backward-method
choose, and a name that is no method is refused, listing the methods there are. The user's objects are untouched."""

import copy
import pickle

import numpy as np
import pytest
from implementations import method_names as m

from reference.adapters import ConventionError, adapt_layer, adapt_loss, adapt_network
from reference.adapters.methods import choose, methods_of
from reference.cli import main as cli
from reference.gradcheck import check

FILE = m.__file__
SPEC = "12-7-5"  # no square layer, and a batch (8) of neither width
NETWORKS = {"call": ("call_network", "relu"), "fprop": ("fprop_network", "sigmoid")}  # builder, hidden activation


def run(capsys, *argv):
    status = cli.main(["check", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out + err


@pytest.mark.parametrize("layer, twin, found", [
    ("Dense", "linear", "forward is __call__(x); backward(grad) uses what forward cached; gradients in `.dW`, `.db`"),
    ("ReLU", "relu", "forward is __call__(x); backward(grad)"),
    ("Linear", "linear", "forward is fprop(x); bprop(grad) uses what forward cached"),
    ("Sigmoid", "sigmoid", "forward is fprop(x); bprop(grad)"),
    ("Logistic", "sigmoid", "forward is activate(x); derivative(x) is the derivative at the input, times grad"),
    ("Tanh", "tanh", "forward is activate(x); derivative(output) is the derivative from the output, times grad"),
])
def test_a_layer_in_each_naming_agrees_and_says_what_was_found(layer, twin, found, capsys):
    status, out = run(capsys, "layer", f"{FILE}:{layer}", "--twin", twin)
    assert status == 0 and found in out.splitlines()[1], out


def test_a_dense_layer_called_with_call_is_built_and_twinned_from_its_class_name(capsys):
    """Twin from the name Dense, built as Dense(784, 32): a layer whose forward is __call__ used to exit 2
    ("no forward")."""
    status, out = run(capsys, "layer", f"{FILE}:Dense", "--in", 784, "--out", 32)
    assert status == 0 and "built as Dense(784, 32)" in out, out


@pytest.mark.parametrize("layer, twin, signature", [
    ("DenseBiasAveraged", "linear", "bias gradient averaged"),
    ("LinearTransposedGradient", "linear", "transposed weight gradient"),
    ("SigmoidDerivativeAtOutput", "sigmoid", "derivative at the output"),
    ("TanhDerivativeOneMinus", "tanh", "tanh derivative 1 - tanh"),
])
def test_a_mistake_under_other_names_exits_1_with_its_signature(layer, twin, signature, capsys):
    status, out = run(capsys, "layer", f"{FILE}:{layer}", "--twin", twin)
    assert status == 1 and f"FIRST DISAGREEMENT: layer 0, {layer}" in out and f"Looks like: {signature}" in out, out


BUILD = '''
from implementations import method_names as m


def build(sizes, seed):
    return m.{builder}(sizes, seed{parts})
'''


def network_file(tmp_path, style, role=None, replacement=None):
    parts = "" if role is None else f", {role}=m.{replacement.__name__}"
    path = tmp_path / f"{style}_net.py"
    path.write_text(BUILD.format(builder=NETWORKS[style][0], parts=parts))
    return path


@pytest.mark.parametrize("style", NETWORKS)
def test_a_network_in_each_naming_agrees_layer_loss_and_update(style, tmp_path, capsys):
    status, out = run(capsys, "implementation", network_file(tmp_path, style), "--spec", SPEC,
                      "--activation", NETWORKS[style][1])
    assert status == 0 and "(5 checked)" in out, out
    loss = {"call": "CrossEntropyLoss.__call__(output, integer labels) returns the batch mean; grad(output, target)",
            "fprop": "SoftmaxCrossEntropy.compute(output, one-hot targets) returns the batch mean; "
                     "derivative(output, target)"}[style]
    assert loss in out, out


@pytest.mark.parametrize("mistake", m.MUTANTS)
def test_a_mistake_in_a_network_is_named_at_its_part(mistake, tmp_path, capsys):
    style, role, replacement, part, signature = m.MUTANTS[mistake]
    status, out = run(capsys, "implementation", network_file(tmp_path, style, role, replacement), "--spec", SPEC,
                      "--activation", NETWORKS[style][1])
    where = "loss" if part == "loss" else f"layer {part}, {replacement.__name__}"
    assert status == 1 and f"FIRST DISAGREEMENT: {where}" in out and signature in out, out


# Two candidates that disagree; the flags ---------------------------------------------------------

def test_two_backward_methods_that_disagree_exit_2_naming_the_flag(capsys):
    status, out = run(capsys, "layer", f"{FILE}:DenseTwoBackwards")
    assert status == 2 and out.count("\n") == 1, out
    assert "DenseTwoBackwards.backward or .backprop" in out and "give --backward-method" in out, out


@pytest.mark.parametrize("method, status", [("backward", 0), ("backprop", 1)])
def test_the_flag_chooses_the_method_checked(method, status, capsys):
    code, out = run(capsys, "layer", f"{FILE}:DenseTwoBackwards", "--backward-method", method)
    assert code == status and f"; {method}(grad) uses what forward cached" in out, out


AMBIGUOUS_LOSS = '''
from implementations import method_names as m


class Loss(m.CrossEntropyLoss):
    def gradient(self, logits, labels):  # an old helper, twice the gradient
        return 2 * self.grad(logits, labels)


def build(sizes, seed):
    return m.call_network(sizes, seed)[0], Loss()
'''


def test_two_loss_gradient_methods_that_disagree_exit_2_naming_where_to_say_which(tmp_path, capsys):
    path = tmp_path / "net.py"
    path.write_text(AMBIGUOUS_LOSS)
    status, out = run(capsys, "implementation", path, "--spec", SPEC, "--activation", "relu")
    assert status == 2 and out.count("\n") == 1, out
    assert "Loss.gradient or .grad" in out and "give gradient_method=" in out and "loss_conventions" in out, out
    path = tmp_path / "settled.py"  # a new file: a module is imported once per process
    path.write_text(AMBIGUOUS_LOSS + "\nCONVENTIONS = {'loss_conventions': {'gradient_method': 'grad'}}\n")
    status, out = run(capsys, "implementation", path, "--spec", SPEC, "--activation", "relu")
    assert status == 0, out


def test_a_method_given_by_name_is_used(capsys):
    status, out = run(capsys, "layer", f"{FILE}:Linear", "--forward-method", "fprop", "--backward-method", "bprop")
    assert status == 0 and "forward is fprop(x); bprop(grad)" in out, out


@pytest.mark.parametrize("flag, name", [("--forward-method", "predict"), ("--backward-method", "backwards")])
def test_a_name_that_is_no_method_is_refused_listing_the_methods(flag, name, capsys):
    status, out = run(capsys, "layer", f"{FILE}:Dense", flag, name)
    assert status == 2 and out.count("\n") == 1, out
    assert f"Dense has no method '{name}'; give {flag} one of its methods: __call__, backward, parameters" in out


def test_the_flags_apply_to_every_layer_of_an_implementation(tmp_path, capsys):
    status, out = run(capsys, "implementation", network_file(tmp_path, "fprop"), "--spec", SPEC, "--activation",
                      "sigmoid", "--forward-method", "fprop", "--backward-method", "bprop")
    assert status == 0 and out.count("forward is fprop(x); bprop(grad)") == 2, out


def test_the_network_check_takes_forward_method_and_its_older_name(capsys):
    network = f"{m.__file__.replace('method_names', 'nielsen')}:Network"
    for flag in ("--forward-method", "--forward"):
        assert run(capsys, "whole-network", network, "--spec", SPEC, flag, "feedforward")[0] == 0
    status, out = run(capsys, "whole-network", network, "--spec", SPEC, "--forward-method", "predict")
    assert status == 2 and "give --forward-method one of its methods" in out, out


def test_a_layer_with_no_forward_names_the_keyword():
    class Opaque:
        def run(self, x):
            return x

        def backward(self, grad):
            return grad

    with pytest.raises(TypeError, match="it has no forward method .* give its name with forward_method="):
        check(Opaque(), twin="relu")
    assert adapt_layer(Opaque(), "relu", forward_method="run").conventions.forward_method == "run"


# The pieces --------------------------------------------------------------------------------------

def test_agreeing_candidates_take_the_usual_name_first():
    class Both(m.ReLU):
        def forward(self, x):
            return self(x)

    assert adapt_layer(Both(), "relu").conventions.forward_method == "forward"


def test_choose_runs_only_where_there_is_a_choice():
    calls = []
    assert choose(m.Dense(3, 2), ("__call__", "fprop"), calls.append, "forward pass", "forward_method") == "__call__"
    assert calls == []
    with pytest.raises(ConventionError, match="give forward_method= the name of its method"):
        choose(m.Dense(3, 2), ("fprop",), calls.append, "forward pass", "forward_method")


def test_a_plain_function_has_no_methods_and_a_loss_object_with_call_is_not_a_function():
    assert methods_of(m.call_network, ("__call__",)) == [] and methods_of(m.ReLU, ("__call__",)) == ["__call__"]
    loss = adapt_loss(m.CrossEntropyLoss(), "cross_entropy")
    assert (loss.conventions.value, loss.conventions.gradient_method, loss.conventions.gradient) == \
        ("__call__", "grad", "stateless")


def test_the_user_s_objects_are_untouched_and_the_adapted_network_pickles():
    layers, loss = m.call_network((12, 7, 5))
    originals = copy.deepcopy((layers, loss))
    adapted = adapt_network(layers, loss, loss_twin="cross_entropy", in_features=12)
    assert check(adapted).ok
    for before, after in zip(originals[0], layers):
        assert vars(before).keys() == vars(after).keys()
        assert all(np.array_equal(vars(before)[k], vars(after)[k]) for k in vars(before))
    assert pickle.loads(pickle.dumps(adapted.network)).layers[0].conventions.forward_method == "__call__"
