"""The checker's entry points on code written in its author's own conventions (tests/implementations):
`compare.py check layer FILE.py:CLASS` on each style's layers and mistakes, `--implementation` on
each style's whole network, ambiguity as exit 2 naming the flag that settles it, and check() from
Python on a textbook layer, the report carrying the conventions found."""

import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from implementations import textbook

from reference.cli import main as cli
from reference.gradcheck import check

FOLDER = Path(__file__).parent / "implementations"
STYLES = ["textbook", "attributes", "functional", "columns", "scratch", "nnfs_style", "functional_l2"]
ACTIVATION = {"textbook": "relu", "attributes": "tanh", "functional": "relu", "columns": "sigmoid",
              "scratch": "sigmoid", "nnfs_style": "relu", "functional_l2": "relu"}
# ACTIVATION: what each style's network() puts between its linear layers
SPEC = "12-7-5"  # no square layer, and a batch (8) of neither width
LAYERS = {  # each style's layers as --layer names them (a functional pair as FORWARD,BACKWARD)
    "textbook": ["Linear", "Sigmoid", "ReLU"],
    "attributes": ["Dense", "Tanh"],
    "functional": ["affine_forward,affine_backward", "relu_forward,relu_backward", "sigmoid_forward,sigmoid_backward"],
    "columns": ["FullyConnected", "Sigmoid"],
    "scratch": ["Linear", "Sigmoid", "ReLU", "Tanh"],
    "nnfs_style": ["Layer_Dense", "Activation_ReLU"],
    "functional_l2": ["affine_forward,affine_backward", "relu_forward,relu_backward"],
}


def style(name):
    return importlib.import_module(f"implementations.{name}")


def location(name, obj) -> str:
    """Where --layer finds obj: its style's file as a user names it, or its importable module (scratch_nn, zoo)."""
    functions = obj if isinstance(obj, tuple) else (obj,)
    module = functions[0].__module__
    where = FOLDER / f"{name}.py" if module == f"implementations.{name}" else module
    return f"{where}:{','.join(f.__name__ for f in functions)}"


def run(capsys, *argv):
    """compare.py check's exit status and what it printed (stdout and stderr together)."""
    status = cli.main(["check", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out + err


# One layer at a time ------------------------------------------------------------------------------

CORRECT = [(name, layer) for name in STYLES for layer in LAYERS[name]]


@pytest.mark.parametrize("name, layer", CORRECT, ids=[f"{style}: {layer}" for style, layer in CORRECT])
def test_each_layer_of_each_style_agrees(name, layer, capsys):
    where = f"scratch_nn:{layer}" if name == "scratch" else f"{FOLDER / name}.py:{layer}"
    status, out = run(capsys, "layer", where)
    assert status == 0 and out.startswith("Conventions found" if name != "scratch" else "gradcheck:"), out


LAYER_MUTANTS = [(name, mutant) for name in STYLES for mutant, (_, _, part, _) in style(name).MUTANTS.items()
                 if part != "loss"]


@pytest.mark.parametrize("name, mutant", LAYER_MUTANTS, ids=[f"{n}: {m}" for n, m in LAYER_MUTANTS])
def test_each_layer_mistake_exits_1_with_its_signature(name, mutant, capsys):
    _, replacement, _, signature = style(name).MUTANTS[mutant]
    status, out = run(capsys, "layer", location(name, replacement))
    assert status == 1 and "FIRST DISAGREEMENT: layer 0" in out and signature in out, out


# Whole networks --------------------------------------------------------------------------------

BUILD = '''
import importlib

from implementations import {name} as style


def build(sizes, seed):
    return style.network(sizes, seed, **{{{parts}}})
'''


def implementation(tmp_path, name, role=None, replacement=None) -> Path:
    """A file whose build(sizes, seed) returns the style's network, with one part replaced."""
    parts = "" if role is None else f"{role!r}: {expression(replacement)}"
    path = tmp_path / f"{name}_net.py"
    path.write_text(BUILD.format(name=name, parts=parts))
    return path


def expression(obj) -> str:
    if isinstance(obj, tuple):
        return f"({', '.join(map(expression, obj))})"
    return f"importlib.import_module({obj.__module__!r}).{obj.__name__}"


@pytest.mark.parametrize("name", STYLES)
def test_each_network_agrees_layer_loss_and_update(name, tmp_path, capsys):
    status, out = run(capsys, "implementation", implementation(tmp_path, name), "--spec", SPEC,
                      "--activation", ACTIVATION[name], "--json", tmp_path / "report.json")
    assert status == 0 and "(5 checked)" in out and out.startswith("Conventions found"), out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["ok"] and len(report["conventions"]["layers"]) == 3 and report["conventions"]["loss"] is not None


NETWORK_MUTANTS = [(name, mutant) for name in STYLES for mutant, (_, _, part, _) in style(name).MUTANTS.items()
                   if part == "loss"]


@pytest.mark.parametrize("name, mutant", NETWORK_MUTANTS, ids=[f"{n}: {m}" for n, m in NETWORK_MUTANTS])
def test_a_mistaken_loss_in_a_network_exits_1_with_its_signature(name, mutant, tmp_path, capsys):
    role, replacement, _, signature = style(name).MUTANTS[mutant]
    status, out = run(capsys, "implementation", implementation(tmp_path, name, role, replacement), "--spec", SPEC,
                      "--activation", ACTIVATION[name])
    assert status == 1 and "FIRST DISAGREEMENT: loss" in out and signature in out, out


def test_a_mistaken_layer_in_a_network_is_named_at_its_index(tmp_path, capsys):
    path = implementation(tmp_path, "textbook", "activation", textbook.ReLUOpenAtZero)
    status, out = run(capsys, "implementation", path, "--spec", SPEC, "--activation", "relu")
    assert status == 1 and "FIRST DISAGREEMENT: layer 1, ReLUOpenAtZero" in out, out


# What probing cannot tell: exit 2 naming the flag; the flag settles it -----------------------------

CASES = {  # layer, flags that leave it ambiguous, the flag named, what settles it
    "square weight": (f"{FOLDER / 'textbook.py'}:Linear", ["--in", "5", "--out", "5"], "--layout",
                      ["--layout", "in_out"]),
    "two weight candidates": ("Projection", ["--twin", "linear"], "--weight", ["--weight", "M"]),
    "learning rate not found": ("StepLinear", ["--twin", "linear"], "--lr", ["--lr", "0.1"]),
    "backward arguments": ("UnnamedReLU", [], "--backward", ["--backward", "x,grad"]),
    "twin": ("Squash", [], "--twin", ["--twin", "relu"]),
}


@pytest.mark.parametrize("case", CASES)
def test_ambiguity_exits_2_naming_the_flag_until_it_is_given(case, capsys):
    layer, flags, flag, settles = CASES[case]
    where = layer if ":" in layer else f"{FOLDER / 'ambiguous.py'}:{layer}"
    status, out = run(capsys, "layer", where, *flags)
    assert status == 2 and out.count("\n") == 1 and f"give {flag}" in out, out
    status, out = run(capsys, "layer", where, *flags, *settles)
    assert status == 0, out


def test_convention_flags_are_refused_for_scratch_nns_own_network(capsys):
    status, out = run(capsys, "network", "--layout", "in_out")
    assert status == 2 and "unrecognized arguments: --layout" in out


# From Python ----------------------------------------------------------------------------------

@pytest.mark.parametrize("layer, twin, found", [
    (textbook.Sigmoid(), "sigmoid", {"backward": "x,grad"}),
    (textbook.Linear(6, 4, 0.1), "linear", {"weight": "weights", "layout": "in_out", "gradients": "update"}),
])
def test_check_takes_an_instance_in_its_own_conventions(layer, twin, found):
    report = check(layer, twin=twin)
    conventions = report.to_dict()["conventions"]["layers"][0]
    assert report.ok and report.table().startswith("Conventions found"), report.table()
    assert {key: conventions[key] for key in found} == found


def test_check_takes_conventions_as_keywords_and_a_list_of_layers_with_a_loss():
    assert check(textbook.Linear, twin="linear", layout="in_out", backward="x,grad", lr=0.1).ok
    layers, loss = textbook.network((12, 7, 5))
    report = check(layers, loss=loss, loss_twin="cross_entropy", x=np.ones((4, 12)))
    assert report.ok and report.conventions["update"] == {"inside_backward": True, "lr": 0.1}, report.table()


def test_the_adapters_do_not_import_the_checker():
    """The dependency points one way (the checker imports the adapters), so neither import order can cycle."""
    code = "import sys, reference.adapters; assert 'reference.gradcheck' not in sys.modules; import reference.gradcheck"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_a_list_of_layers_takes_a_list_of_twins():
    with pytest.raises(TypeError, match="give the twins as a list"):
        check(textbook.network((12, 7, 5))[0], twin="linear")


@pytest.mark.parametrize("layer, call", [("textbook.py:Linear", "x"), ("textbook.py:Linear", "output"),
                                         ("functional.py:affine_forward,affine_backward", "x")])
def test_an_activations_derivative_call_is_refused_for_a_linear_layer(layer, call, capsys):
    status, out = run(capsys, "layer", f"{FOLDER / layer}", "--backward", call)
    assert status == 2 and out.count("\n") == 1, out
    assert f"--backward '{call}' calls an activation's derivative" in out, out
    assert "applies to sigmoid, relu, tanh, softmax layers, not to" in out and "a linear layer" in out, out
