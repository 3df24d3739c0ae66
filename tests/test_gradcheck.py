"""reference.gradcheck: no false alarms on the real layers, layers written by hand (not subclassing
scratch_nn) checked through a named twin, clear errors, the report's forms, and the command line.
The bug zoo's own tests (test_zoo.py) show it catching mistakes and naming them."""

import itertools
import json

import numpy as np
import pytest
import torch
import zoo
from torch import nn

import scratch_nn
from reference.cli.main import main as compare
from reference.finite_differences import FINITE_DIFFERENCES_JUDGE
from reference.gradcheck import check, check_layer, check_layer_class, check_network
from reference.side_by_side import compare_pass
from scratch_nn import (
    SGD,
    QuadraticLoss,
    Sequential,
    SoftmaxCrossEntropy,
    build_network,
)


class HandLinear:
    """A linear layer written from scratch without subclassing scratch_nn: what a user brings."""

    def __init__(self, weight, bias):
        self.params = {"weight": weight, "bias": bias}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return x @ self.params["weight"].T + self.params["bias"]

    def backward(self, grad_output):
        self.grads = {"weight": grad_output.T @ self.x, "bias": grad_output.sum(axis=0)}
        return grad_output @ self.params["weight"]


class HandLinearBiasAveraged(HandLinear):
    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.grads["bias"] = grad_output.mean(axis=0)
        return grad_input


class HandSigmoid:
    def __init__(self):
        self.params = {}

    def forward(self, x):
        self.s = 1 / (1 + np.exp(-x))
        return self.s

    def backward(self, grad_output):
        return grad_output * self.s * (1 - self.s)


class HandIdentity:
    """A layer whose name (and lack of a base class) says nothing of what it computes."""

    def __init__(self):
        self.params = {}

    def forward(self, x):
        return x

    def backward(self, grad_output):
        return grad_output


class HandCrossEntropy:
    """The mean softmax cross-entropy over class labels, naming its twin as an adapter would."""

    torch_twin = "cross_entropy"

    def forward(self, z, labels):
        shifted = z - z.max(axis=1, keepdims=True)
        self.p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        self.t = np.eye(z.shape[1], dtype=z.dtype)[labels]
        return -(self.t * np.log(self.p)).sum() / len(z)

    def backward(self):
        return (self.p - self.t) / len(self.p)


class HandHalfSquaredError:
    """1/(2n) sum ||a - t||^2 over class labels (one-hot), naming its twin."""

    torch_twin = "mse"

    def forward(self, a, labels):
        self.residual = a - np.eye(a.shape[1], dtype=a.dtype)[labels]
        return (self.residual ** 2).sum() / (2 * len(a))

    def backward(self):
        return self.residual / len(self.residual)


class TwinNamedLinear(HandLinear):
    torch_twin = "linear"


class TwinNamedSigmoid(HandSigmoid):
    torch_twin = "sigmoid"


# No false alarms ---------------------------------------------------------------------------------

OUTPUT_ACTIVATION = {"mse": "sigmoid", "probability_cross_entropy": "softmax"}  # the layer each loss follows

@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "probability_cross_entropy"])
@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
def test_the_real_network_passes(dtype, activation, loss, seed):
    """12-8-8-4: two hidden layers, one of them square; the paper's initialisation on odd seeds
    (pre-activations of several units: saturated sigmoids, large logits)."""
    network = build_network("12-8-8-4", activation, init="paper" if seed % 2 else "torch", seed=seed, dtype=dtype,
                            output_activation=OUTPUT_ACTIVATION.get(loss))
    report = check(network, loss=loss, seed=seed)
    assert report.ok, report.table()
    assert [p.label for p in report.parts] == [f"layer {i}" for i in range(len(network.layers))] + ["loss", "optimizer"]


@pytest.mark.parametrize("init", ["paper", "torch"])
def test_an_mnist_sized_network_passes(dtype, init):
    report = check(build_network("784-32-10", "sigmoid", init=init, dtype=dtype), loss="cross_entropy")
    assert report.ok, report.table()
    fd = report.parts[0].finite_differences["0.grad_input"]
    assert "20 of 6272 entries sampled" in fd.where  # the default: a sample, not 6272 x ~10 forward passes


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["6-5-3", "784-32-10", "20-16-16-10"])
def test_no_false_alarm_sweep(spec, dtype):
    """The sweep the finite-difference margin was set from: activations, losses, both inits, both
    dtypes, 3 seeds, batches of 1 and 8."""
    for activation, loss, init, seed, batch in itertools.product(
            ["sigmoid", "relu", "tanh"], ["cross_entropy", "mse"], ["torch", "paper"], range(3), [1, 8]):
        network = build_network(spec, activation, init=init, seed=seed, dtype=dtype,
                                output_activation="sigmoid" if loss == "mse" else None)
        report = check_network(network, loss=loss, seed=seed, batch_size=batch)
        assert report.ok, report.table()


def test_check_leaves_the_network_as_it_was():
    """Every part runs on a copy: even a backward that updates its weights changes nothing of the caller's."""
    network = build_network("6-5-3", "sigmoid")
    network.layers[2] = zoo.LinearUpdatesBeforeGradInput(network.layers[2].params["weight"],
                                                        network.layers[2].params["bias"])
    before = network.state_dict()
    check(network, loss="cross_entropy")
    for key, value in network.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    for layer in network.layers:  # and never ran the caller's layers: they have nothing to differentiate
        with pytest.raises(RuntimeError, match="backward was called before forward"):
            layer.backward(np.ones((1, 5)))


# Layers of one's own -------------------------------------------------------------------------------

def test_a_hand_written_layer_class_with_a_named_twin(dtype):
    report = check_layer_class(HandLinear, twin="linear", in_features=5, out_features=3, dtype=dtype)
    assert report.ok, report.table()
    assert (report.parts[0].name, report.parts[0].description) == ("HandLinear", "HandLinear(5->3)")
    assert report.parts[0].torch["0.weight.grad"].shape == (3, 5)
    assert check_layer_class(HandSigmoid, twin="sigmoid", in_features=7, dtype=dtype).ok


def test_a_hand_written_mistake_is_named():
    report = check(HandLinearBiasAveraged, twin="linear")
    first = report.first_failure
    assert (first.kind, first.index, first.name, first.failing) == ("layer", 0, "HandLinearBiasAveraged",
                                                                   ["0.bias.grad"])
    assert first.signatures == ["bias gradient averaged"]


def test_a_twin_given_as_a_torch_module_and_a_network_of_hand_written_layers():
    rng = np.random.default_rng(0)
    layer = HandLinear(rng.standard_normal((3, 5)), rng.standard_normal(3))
    module = nn.Linear(5, 3, dtype=torch.float64)
    assert check_layer(layer, twin=module).ok
    assert module.weight.shape == (3, 5)  # the module given is copied, not loaded into
    network = Sequential(HandLinear(rng.standard_normal((4, 5)), rng.standard_normal(4)), HandSigmoid(),
                         HandLinearBiasAveraged(rng.standard_normal((3, 4)), rng.standard_normal(3)))
    report = check_network(network, twins=["linear", "sigmoid", "linear"], loss=SoftmaxCrossEntropy())
    assert [p.label for p in report.failures] == ["layer 2"]
    assert check(network, twin=["linear", "sigmoid", "linear"], loss=SoftmaxCrossEntropy()).to_dict() == \
        report.to_dict()  # check() dispatches to the entry point for its subject


@pytest.mark.parametrize("loss", [HandCrossEntropy, HandHalfSquaredError])
def test_layers_and_losses_can_name_their_own_twins(loss):
    """A torch_twin attribute does what a twin argument does, for layers and for losses alike."""
    rng = np.random.default_rng(0)
    network = Sequential(TwinNamedLinear(rng.standard_normal((4, 5)), rng.standard_normal(4)), TwinNamedSigmoid(),
                         TwinNamedLinear(rng.standard_normal((3, 4)), rng.standard_normal(3)))
    report = check(network, loss=loss())
    assert report.ok, report.table()
    assert report.settings["subject"] == \
        f"TwinNamedLinear(5->4), TwinNamedSigmoid, TwinNamedLinear(4->3); {loss.__name__}; SGD"
    compare_pass(network, x=rng.standard_normal((6, 5)), target=rng.integers(0, 3, 6), loss=loss()).assert_ok()
    assert check_layer_class(TwinNamedSigmoid).ok and check_layer_class(TwinNamedLinear, out_features=2).ok


def test_an_unknown_torch_twin_is_refused_clearly():
    class Misnamed(HandSigmoid):
        torch_twin = "softplus"

    class MisnamedLoss(HandCrossEntropy):
        torch_twin = "hinge"

    with pytest.raises(ValueError, match="unknown twin 'softplus'"):
        check(Misnamed())
    with pytest.raises(ValueError, match="unknown torch_twin 'hinge' of the loss"):
        check(build_network("6-5-3"), loss=MisnamedLoss())


def test_code_that_raises_is_reported_as_that_parts_failure():
    class Crashing(HandLinear):
        def backward(self, grad_output):
            return grad_output @ self.params["weight"].T  # (n, out) @ (in, out): the shapes do not fit

    report = check(Crashing, twin="linear")
    assert report.first_failure.error.startswith("backward raised ValueError: matmul")
    assert "backward raised ValueError" in report.table()

    class Forgetful(HandLinear):
        def backward(self, grad_output):
            grad_input = super().backward(grad_output)
            del self.grads["bias"]
            return grad_input

    error = check(Forgetful, twin="linear").first_failure.error
    assert error == "backward left no gradient for ['bias'] in layer.grads"


@pytest.mark.parametrize("call,error,words", [
    (lambda: check(HandIdentity), ValueError, "cannot tell from the name 'HandIdentity' .*give twin="),
    (lambda: check(HandLinear, twin="softplus"), ValueError, "unknown twin 'softplus'"),
    (lambda: check(HandSigmoid, twin="sigmoid", out_features=3), ValueError, "out_features applies to a linear"),
    (lambda: check(object, twin="relu"), TypeError,
     "has no forward and no backward method .* give its name with forward_method="),
    (lambda: check(build_network("6-5-3"), twin="linear"), TypeError, "give the twins as a list"),
    (lambda: check(build_network("6-5-3"), in_features=3), ValueError, "a network's input size comes from"),
    (lambda: check(HandSigmoid(), out_features=3), ValueError, "a layer instance has its own"),
    (lambda: check(build_network("6-5-3"), lr=0), ValueError, "lr must be a positive finite number"),
    (lambda: check(build_network("6-5-3"), lr=float("nan")), ValueError, "lr must be a positive finite number"),
    (lambda: check(build_network("6-5-3"), batch_size=0), ValueError, "batch_size must be a positive integer"),
    (lambda: check(build_network("6-5-3"), x=np.ones((2, 5))), ValueError, r"x must be a 2-D array \(batch, 6\)"),
    (lambda: check(build_network("6-5-3"), x=np.ones((2, 6), np.float32)), TypeError, "x is float32"),
    (lambda: check(Sequential()), ValueError, "no layers"),
    (lambda: check(build_network("6-5-3"), loss="hinge"), ValueError, "unknown loss 'hinge'; choose from"),
    (lambda: check(lambda: None, twin="relu"), TypeError, "has no forward"),
])
def test_bad_usage_is_refused_clearly(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_parameters_named_unlike_torchs_are_refused_clearly():
    class Named(HandLinear):
        def __init__(self, weight, bias):
            super().__init__(weight, bias)
            self.params = {"weight": weight, "b": bias}

    with pytest.raises(ValueError, match="params do not fit their torch twins' parameters"):
        check(Named, twin="linear")
    with pytest.raises(ValueError, match="same names, shapes and dtype .* not bit-for-bit equal"):
        check(HandLinear, twin=nn.Linear(6, 4))  # a float32 module for a float64 layer


# The report --------------------------------------------------------------------------------------

def broken_network():
    network = build_network("6-5-3", "sigmoid")
    network.layers[1] = zoo.SigmoidDerivativeAtOutput()
    return network


def test_the_table_names_the_first_failure_and_says_what_it_looks_like():
    table = check(broken_network(), loss=zoo.SoftmaxWithoutMaxShift()).table()
    assert "layer 1   SigmoidDerivativeAtOutput()   <-- FAIL" in table
    assert "FIRST DISAGREEMENT: layer 1, SigmoidDerivativeAtOutput()" in table
    assert "against torch: 1.grad_input (layer 1, SigmoidDerivativeAtOutput())" in table
    assert "against finite differences: 1.grad_input" in table and "entries sampled" in table
    assert "Looks like: derivative at the output (1.grad_input). The activation's derivative" in table
    assert "Also disagreeing, each a mistake of its own" in table and "loss (loss at logits + 1000" in table


def test_finite_difference_messages_name_their_judge():
    d = check(broken_network()).parts[1].finite_differences["1.grad_input"]
    judge = FINITE_DIFFERENCES_JUDGE
    assert d.judge == judge
    assert f"max|{judge}|" in d.describe() and f", {judge} " in d.describe() and "torch" not in d.describe()


def test_to_dict_is_strict_json():
    report = check(broken_network(), loss=zoo.SoftmaxWithoutMaxShift())
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["ok"] is False
    assert data["first_failure"] == {"kind": "layer", "index": 1, "name": "SigmoidDerivativeAtOutput",
                                     "description": "SigmoidDerivativeAtOutput()", "failing": ["1.grad_input"],
                                     "signatures": ["derivative at the output"], "error": "", "step": None}
    loss = data["parts"][3]
    assert loss["signatures"][0]["signature"] == "softmax overflow"
    assert loss["torch"]["tensors"]["loss at logits + 1000"]["max_abs"] == "inf"


def test_parts_can_be_left_out_and_the_optimizer_can_be_a_factory():
    network = build_network("6-5-3", "relu")
    assert [p.kind for p in check(network, optimizer=None).parts] == ["layer"] * 3
    report = check(network, loss=QuadraticLoss(), optimizer=lambda net, lr: SGD(net, lr), lr=0.5)
    assert report.ok and report.parts[-1].description == "SGD(lr=0.5), 5 steps against torch.optim.SGD"


def test_given_inputs_and_targets_are_used():
    network = build_network("6-5-3", "tanh")
    x = np.random.default_rng(5).standard_normal((3, 6))
    report = check(network, x=x, target=np.array([0, 1, 2]), loss="cross_entropy")
    assert report.ok and report.settings["batch_size"] == 3


# The command line --------------------------------------------------------------------------------

def test_cli_agreement_exits_0_and_writes_json(tmp_path, capsys):
    path = tmp_path / "report.json"
    assert compare(["check", "network", "--spec", "6-5-3", "--activation", "relu", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Every part agrees with torch and with finite differences (5 checked)." in out
    assert json.loads(path.read_text())["ok"] is True


@pytest.mark.parametrize("argv, description", [
    (["--optimizer", "adam", "--betas", "0.8", "0.99", "--amsgrad", "--lr", "0.01"],
     "Adam(lr=0.01, betas=(0.8, 0.99), eps=1e-08, amsgrad=True), 5 steps against torch.optim.Adam"),
    (["--optimizer", "nesterov", "--weight-decay", "0.1", "--optimizer-steps", "3"],
     "SGD(lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True), 3 steps against torch.optim.SGD"),
    (["--optimizer", "rmsprop", "--alpha", "0.9", "--centered", "--momentum", "0.5"],
     "RMSprop(lr=0.1, momentum=0.5, alpha=0.9, eps=1e-08, centered=True), 5 steps against torch.optim.RMSprop"),
])
def test_cli_checks_the_optimizer_named_with_its_settings(argv, description, tmp_path, capsys):
    path = tmp_path / "report.json"
    assert compare(["check", "network", "--spec", "6-5-3", *argv, "--json", str(path)]) == 0
    assert f"optimizer {description}" in capsys.readouterr().out
    assert json.loads(path.read_text())["parts"][-1]["step"] == int(description.split(" steps")[0].split()[-1])


def test_cli_optimizer_none_checks_no_step(capsys):
    assert compare(["check", "network", "--spec", "6-5-3", "--optimizer", "none"]) == 0
    assert "(4 checked)" in capsys.readouterr().out


def test_cli_mse_network_in_float32(capsys):
    assert compare(["check", "network", "--spec", "8-6-4", "--loss", "mse", "--dtype", "float32", "--batch-size",
                    "5"]) == 0
    out = capsys.readouterr().out
    assert "Linear(8->6), Sigmoid, Linear(6->4), Sigmoid; QuadraticLoss; SGD (float32, batch size 5" in out


def test_cli_probability_loss_network_takes_a_softmax_output(capsys):
    assert compare(["check", "network", "--spec", "8-6-4", "--loss", "probability_cross_entropy", "--batch-size",
                    "5"]) == 0
    out = capsys.readouterr().out
    assert "Linear(8->6), Sigmoid, Linear(6->4), Softmax; ProbabilityCrossEntropy; SGD (float64, batch size 5" in out


HAND_WRITTEN = '''
import numpy as np

class MyLinear:
    def __init__(self, weight, bias):
        self.params, self.grads = {"weight": weight, "bias": bias}, {}

    def forward(self, x):
        self.x = x
        return x @ self.params["weight"].T + self.params["bias"]

    def backward(self, g):
        self.grads = {"weight": self.x.T @ g, "bias": g.sum(axis=0)}
        return g @ self.params["weight"]
'''


def test_cli_checks_a_layer_class_from_a_file(tmp_path, capsys):
    source = tmp_path / "my_layers.py"
    source.write_text(HAND_WRITTEN)
    assert compare(["check", "layer", f"{source}:MyLinear", "--twin", "linear", "--in", "5", "--out", "3"]) == 1
    out = capsys.readouterr().out
    assert "FIRST DISAGREEMENT: layer 0, MyLinear" in out
    assert "shape (5, 3) on the scratch side, (3, 5) in torch (transposed?)" in out
    assert "Looks like: transposed weight gradient (0.weight.grad)" in out


@pytest.mark.parametrize("argv,words", [
    (["network", "--activation", "softplus"], "unknown activation 'softplus'"),
    (["network", "--spec", "784x10"], "a spec starts with the input size (784) or image shape (1x28x28)"),
    (["layer", "no_colon"], "check layer takes MODULE:CLASS"),
    (["layer", "no_such_module_here:X"], "No module named 'no_such_module_here'"),
    (["layer", "missing.py:X"], "no file missing.py"),
    (["layer", "reference.gradcheck:Nothing"], "reference.gradcheck has no class Nothing"),
    (["layer", "zoo:SigmoidDerivativeAtOutput", "--out", "3"], "out_features applies to a linear layer only"),
    (["network", "--in", "5"], "unrecognized arguments: --in"),  # a layer's size; a network's come from --spec
    (["network", "--batch-size", "0"], "must be a positive integer"),
    (["network", "--lr", "0"], "argument --lr: must be a positive finite number; got '0'"),
    (["network", "--lr", "-1"], "must be a positive finite number"),
    (["network", "--lr", "inf"], "must be a positive finite number"),
    (["network", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["network", "--optimizer", "adagrad"], "argument --optimizer: invalid choice: 'adagrad'"),
    (["network", "--optimizer-steps", "0"], "argument --optimizer-steps: must be a positive integer"),
    (["network", "--betas", "0.9", "0.99"],
     "--betas does not apply to --optimizer sgd; it is a setting of adam, adamw"),
    (["network", "--optimizer", "rmsprop", "--nesterov"], "--nesterov does not apply to --optimizer rmsprop"),
    (["network", "--optimizer", "adam", "--betas", "0.9", "1.5"],
     "Adam: beta2 must be a number in [0, 1); got beta2=1.5"),
    (["network", "--optimizer", "momentum", "--momentum", "-1"], "SGD: momentum must be a number >= 0"),
    (["network", "--optimizer", "none", "--eps", "1e-3"],
     "--eps is a setting of an optimizer; --optimizer none checks no step"),
    ([], "the following arguments are required: {network,layer,"),
])
def test_cli_bad_usage_exits_2_with_the_reason(argv, words, capsys):
    assert compare(["check", *argv]) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["network", "layer", "implementation", "whole-network", "engine", "update-rule"])
def test_cli_help_exits_0_and_documents_every_exit_status(kind, capsys):
    assert compare(["check", kind, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for words in ("0 every part agrees 1 something disagrees", "2 the check cannot run", "cannot be imported",
                  "constructor raises", "130 interrupted", "--seed SEED seed of the weights"):
        assert words in text, words


# Whatever the user's module does, the exit status says whether the check ran -----------------------

BROKEN_MODULES = {
    "syntax error": ("class MyLinear(:\n", "importing {path} raised SyntaxError"),
    "name error": ("class MyLinear(Base):\n    pass\n", "importing {path} raised NameError: name 'Base'"),
    "exception": ("raise RuntimeError('no GPU here')\n", "importing {path} raised RuntimeError: no GPU here"),
    "sys.exit(0)": ("import sys\nsys.exit(0)\n", "importing {path} called sys.exit(0)"),
    "sys.exit(3)": ("import sys\nsys.exit(3)\n", "importing {path} called sys.exit(3)"),
    "constructor raises": (HAND_WRITTEN.replace("self.params, self.grads =", "raise KeyError('weights')\n        x ="),
                           "could not build MyLinear: MyLinear(weight, bias): KeyError"),
    "constructor exits": (HAND_WRITTEN.replace("self.params, self.grads =", "raise SystemExit(0)\n        x ="),
                          "the code under check called sys.exit(0)"),
    "no such class": ("x = 1\n", "{path} has no class MyLinear"),
}


@pytest.mark.parametrize("case", BROKEN_MODULES)
def test_cli_a_module_that_cannot_be_checked_exits_2_in_one_line(case, tmp_path, capsys):
    source, words = BROKEN_MODULES[case]
    path = tmp_path / "my_layers.py"
    path.write_text(source)
    assert compare(["check", "layer", f"{path}:MyLinear", "--twin", "linear"]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("compare.py check layer: error: "), err
    assert words.format(path=path) in err
    assert "Traceback" not in out + err and out == ""


@pytest.mark.parametrize("json_path,words", [
    ("missing/report.json", "does not exist"),
    (".", "is a folder"),
])
def test_cli_an_unwritable_json_path_exits_2_before_the_check(json_path, words, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert compare(["check", "network", "--spec", "6-5-3", "--json", json_path]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and words in err  # nothing checked, nothing printed


def test_cli_interrupt_exits_130(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(scratch_nn, "build_network", interrupted)
    assert compare(["check", "network", "--spec", "6-5-3"]) == 130
    assert capsys.readouterr().err == "compare.py check network: interrupted\n"
