"""A user's network that ends in its own Softmax layer and takes the cross-entropy of its
probabilities (tests/implementations/probabilities.py), through `compare.py check`: the correct
network passes every part in float64, each of its mistakes is caught at its part and named, and a
loss of probabilities checked as the cross-entropy of logits is refused naming the --loss to give."""

from pathlib import Path

import numpy as np
import pytest
from implementations import probabilities

from reference.adapters import adapt_layer, adapt_loss
from reference.cli import main as cli
from reference.gradcheck import check

FOLDER = Path(__file__).parent / "implementations"
NETWORK = ["--spec", "12-7-5", "--activation", "relu", "--output-activation", "softmax"]
PROBABILITIES = ["--loss", "probability_cross_entropy"]


def run(capsys, *argv):
    """compare.py check's exit status and what it printed (stdout and stderr together)."""
    status = cli.main(["check", *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out + err


def implementation(tmp_path, role=None, replacement=None) -> Path:
    """A file whose build(sizes, seed) returns the style's network, with one part replaced."""
    part = "" if role is None else f"{role}=probabilities.{replacement.__name__}"
    path = tmp_path / "softmax_net.py"
    path.write_text(f"from implementations import probabilities\n\n\ndef build(sizes, seed):\n"
                    f"    return probabilities.network(sizes, seed, {part})\n")
    return path


def test_the_network_passes_every_part_in_float64(tmp_path, capsys):
    status, out = run(capsys, "implementation", implementation(tmp_path), *NETWORK, *PROBABILITIES)
    assert status == 0 and "(6 checked)" in out and "float64" in out, out
    assert "layer 3: Softmax (softmax): backward(grad) uses what forward cached" in out, out
    assert "loss: CrossEntropy (probability_cross_entropy)" in out, out


@pytest.mark.parametrize("mutant", probabilities.MUTANTS)
def test_each_mistake_is_caught_at_its_part_and_named(mutant, tmp_path, capsys):
    role, replacement, part, signature = probabilities.MUTANTS[mutant]
    status, out = run(capsys, "implementation", implementation(tmp_path, role, replacement), *NETWORK,
                      *PROBABILITIES)
    where = f"layer {part}, {replacement.__name__}" if isinstance(part, int) else "loss"
    assert status == 1 and f"FIRST DISAGREEMENT: {where}" in out and signature in out, out


def test_the_loss_checked_as_the_logits_cross_entropy_is_refused_naming_the_loss(tmp_path, capsys):
    status, out = run(capsys, "implementation", implementation(tmp_path), *NETWORK)
    assert status == 2 and out.count("\n") == 1 and "give --loss probability_cross_entropy" in out, out


@pytest.mark.parametrize("flags", [[], ["--twin", "softmax"]])
def test_the_softmax_layer_alone_by_its_name_or_its_twin(flags, capsys):
    status, out = run(capsys, "layer", f"{FOLDER / 'probabilities.py'}:Softmax", *flags)
    assert status == 0 and out.startswith("Conventions found"), out


def test_a_layer_naming_its_twin_as_an_attribute():
    class Normalise(probabilities.Softmax):  # a name that says nothing: the attribute does
        torch_twin = "softmax"

    assert adapt_layer(Normalise).torch_twin == "softmax"
    report = check(probabilities.SoftmaxJacobianDiagonal, twin="softmax")
    assert not report.ok and "softmax backward uses only the Jacobian's diagonal" in report.first_failure.signatures


def test_the_loss_is_found_from_its_values_and_gradient():
    loss = adapt_loss(probabilities.CrossEntropy(), "probability_cross_entropy")
    assert (loss.conventions.gradient, loss.conventions.reduction) == ("stateless", "mean")
    probs = np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    assert loss.forward(probs, np.array([1, 2])) == pytest.approx(-(np.log(0.25) + np.log(0.8)) / 2, rel=1e-15)
