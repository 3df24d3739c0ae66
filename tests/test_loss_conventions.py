"""Losses in the textbook conventions (tests/implementations/nnfs_style.py): the gradient left in
.dinputs, per-example values beside a calculate() that means them, a fused softmax + cross-entropy
whose backward is handed the probabilities; a loss that cannot be read fails alone, saying what was
raised; and no value a user's code returns crashes a judge."""

import sys

import numpy as np
import pytest
from implementations import nnfs_style, textbook

from reference.adapters import UnreadableLoss, adapt_loss, adapt_network, read_loss
from reference.comparison import diff
from reference.gradcheck import check
from reference.gradcheck.signatures import Case, match_signatures
from reference.tolerances import FLOAT64

SIZES = (12, 7, 5)


def checked(loss, **options):
    layers, _ = nnfs_style.network(SIZES)
    return adapt_network(layers, loss, in_features=SIZES[0], **options)


def test_the_fused_loss_is_handed_its_probabilities_and_leaves_the_gradient_in_dinputs():
    adapted = checked(nnfs_style.Activation_Softmax_Loss_CategoricalCrossentropy(), loss_twin="cross_entropy")
    assert ("backward(its `.output` (the softmax forward computed), target) leaves the gradient in `.dinputs`"
            in adapted.describe())
    assert check(adapted).ok


def test_per_example_values_are_held_to_the_reduction_calculate_gives():
    """forward returns one loss per example, calculate their mean: the gradient must be of the mean, so a
    backward without the 1/n is the mistake it is, not a loss "of the sum"."""
    loss = adapt_loss(nnfs_style.Loss_CategoricalCrossentropy(), "probability_cross_entropy")
    assert loss.conventions.value == "calculate" and loss.conventions.reduction == "mean"

    class NotNormalized(nnfs_style.Loss_CategoricalCrossentropy):
        def backward(self, dvalues, y_true):
            super().backward(dvalues, y_true)
            self.dinputs *= len(dvalues)

    layers, _ = nnfs_style.network(SIZES)
    adapted = adapt_network([*layers, nnfs_style.Activation_Softmax()], NotNormalized(), twins=[None] * 3 + ["softmax"],
                            loss_twin="probability_cross_entropy", in_features=SIZES[0])
    first = check(adapted).first_failure
    assert first.kind == "loss" and "batch size too big" in first.signatures


def test_a_backward_that_returns_nothing_and_sets_nothing_is_said_not_crashed_on():
    class Forgetful(nnfs_style.Activation_Softmax_Loss_CategoricalCrossentropy):
        def backward(self, dvalues, y_true):
            self.forgotten = None

    report = check(checked(Forgetful(), loss_twin="cross_entropy", loss_conventions={"backward_from": "output"}))
    assert [p.kind for p in report.failures] == ["loss"], report.table()
    assert "the loss's backward gave None, not an array of numbers" in report.failures[0].error


def test_a_loss_that_raises_when_probed_fails_alone_saying_what_was_raised():
    class Broken(nnfs_style.Activation_Softmax_Loss_CategoricalCrossentropy):
        def forward(self, inputs, y_true):
            raise KeyError("probs")

    adapted = checked(Broken(), loss_twin="cross_entropy")
    assert isinstance(adapted.loss, UnreadableLoss)
    report = check(adapted)
    assert [p.kind for p in report.parts] == ["layer"] * 3 + ["loss", "optimizer"]
    assert [p.kind for p in report.failures] == ["loss"], report.table()
    assert "every way of calling it: raised KeyError: 'probs'" in report.failures[0].error


def test_a_refused_loss_says_what_each_call_raised():
    def loss(logits, labels):
        raise ValueError("shapes (5,3) and (4,) not aligned")

    read = read_loss(loss, "cross_entropy")
    assert read.asks and "raised ValueError: shapes (5,3) and (4,) not aligned" in read.reason


@pytest.mark.parametrize("value", [None, "loss", [[1.0], [2.0, 3.0]], np.array([None, None]), {"dx": 1.0}])
def test_the_judges_take_only_arrays_of_numbers_and_say_what_else_they_got(value):
    result = diff("loss.grad", value, np.zeros(2), FLOAT64)
    assert not result.ok and "not an array of numbers" in result.problem
    case = Case("loss", {"loss.grad": value}, {"loss.grad": np.ones(2)}, 2, x=np.ones(2))
    assert match_signatures(case, ["loss.grad"], FLOAT64) == []


def test_the_textbook_loss_style_still_reads_as_before():
    """A stateless backward(logits, one_hot) returning the gradient: nothing new is asked of it."""
    loss = adapt_loss(textbook.CrossEntropy(), "cross_entropy")
    assert loss.conventions.backward_from == "" and loss.conventions.gradient_attribute == ""


def test_a_layer_file_that_imports_its_sibling_is_checked(tmp_path, capsys):
    """--layer (and --network, --engine, which load alike) put the file's folder on sys.path while it is imported."""
    from reference.cli import main as cli

    (tmp_path / "activations_helper.py").write_text("import numpy as np\n\ndef relu(x):\n    return np.maximum(x, 0)\n")
    (tmp_path / "my_layers.py").write_text(
        "from activations_helper import relu\n\n\nclass ReLU:\n    def forward(self, x):\n        self.x = x\n"
        "        return relu(x)\n\n    def backward(self, grad):\n        return grad * (self.x > 0)\n")
    status = cli.main(["check", "layer", f"{tmp_path / 'my_layers.py'}:ReLU"])
    out, err = capsys.readouterr()
    assert status == 0 and str(tmp_path) not in sys.path, out + err


MODEL = '''
from implementations import keras_like


def build(sizes, seed):
    return keras_like.model(sizes, seed{loss})
'''


@pytest.mark.parametrize("loss, status", [("", 0), (", loss=keras_like.SparseCategoricalCrossentropySummed", 1)])
def test_the_loss_a_returned_model_holds_is_the_one_checked(loss, status, tmp_path, capsys):
    """build returns a Keras-like Model holding its loss (model.loss, called loss(y_true, y_pred)): that loss
    is checked, so its missing 1/n fails (it was replaced by scratch_nn's, and passed)."""
    from reference.cli import main as cli

    path = tmp_path / "model.py"
    path.write_text(MODEL.format(loss=loss))
    code = cli.main(["check", "implementation", str(path), "--spec", "12-7-5", "--activation", "relu"])
    out = capsys.readouterr().out
    assert code == status, out
    assert ".__call__(integer labels, output) returns the batch mean; gradient(target, output) returns" in out, out
    assert status == 0 or ("FIRST DISAGREEMENT: loss" in out and "batch size too big" in out), out


def test_where_the_tool_uses_its_own_loss_the_block_says_so(tmp_path, capsys):
    from reference.cli import main as cli

    path = tmp_path / "layers.py"
    path.write_text("from implementations import keras_like\n\n\ndef build(sizes, seed):\n"
                    "    return keras_like.network(sizes, seed)[0]\n")
    assert cli.main(["check", "implementation", str(path), "--spec", "12-7-5", "--activation", "relu"]) == 0
    assert ("loss: none in what build returns: scratch_nn's SoftmaxCrossEntropy (--loss cross_entropy) is used"
            in capsys.readouterr().out)


def test_the_transposed_gradient_hint_shows_the_fix_for_the_users_layout(capsys):
    """An (in, out) layer whose dW is G^T x (its mistake): the hint gives x^T G for its layout, and never
    G^T x as the (in, out) layer's gradient."""
    from pathlib import Path

    from reference.cli import main as cli

    layer = Path(__file__).parent / "implementations" / "attributes.py"
    status = cli.main(["check", "layer", f"{layer}:DenseTransposedGradient", "--in", "5", "--out", "5",
                       "--layout", "in_out"])
    out = capsys.readouterr().out
    assert status == 1 and "The fix, in your code's terms: dW = X.T @ G" in out, out


@pytest.mark.parametrize("loss, marks", [
    ("Activation_Softmax_Loss_CategoricalCrossentropy", {"linear": True, "relu": True, "loss": True,
                                                         "update": None, "training": True}),
    ("Activation_Softmax_Loss_CategoricalCrossentropyNotNormalized", {"linear": True, "relu": True, "loss": False,
                                                                      "update": None, "training": False}),
])
def test_grade_marks_textbook_style_code_part_by_part(loss, marks, tmp_path, capsys):
    """Correct code in this style gets every mark (it got none: the loss crashed the checker); a loss
    without the 1/n fails the loss and training, and the layers keep theirs. Graded in the sandbox, the
    submission is a folder: the textbook's module beside the build() that uses it."""
    import json
    from pathlib import Path

    from reference.cli import main as cli

    student = tmp_path / "submissions" / "student"
    student.mkdir(parents=True)
    (student / "nnfs_style.py").write_text(Path(nnfs_style.__file__).read_text())
    (student / "submission.py").write_text(f"import nnfs_style\n\n\ndef build(sizes, seed):\n"
                                           f"    return nnfs_style.network(sizes, seed, loss=nnfs_style.{loss})\n")
    record = tmp_path / "grades.json"
    cli.main(["grade", str(tmp_path / "submissions"), "--activations", "relu", "--json", str(record)])
    parts = json.loads(record.read_text())["submissions"][0]["parts"]
    assert {part: parts[part]["ok"] for part in marks} == marks, (parts, capsys.readouterr())
    assert marks["loss"] or "batch size too big" in parts["loss"]["reason"]


# A loss that takes the model and adds an L2 penalty (tests/implementations/functional_l2.py) ----------

def test_a_loss_taking_the_model_is_checked_with_torchs_loss_plus_the_same_penalty():
    from implementations import functional_l2

    model, loss = functional_l2.network(SIZES, reg=0.05)
    adapted = adapt_network(model, loss, loss_twin="cross_entropy", in_features=SIZES[0])
    assert ("loss(model, output, integer labels) returns the batch mean; the same call returns (loss, gradient); "
            "takes the model first and adds 0.025 * sum W^2 over its weights" in adapted.describe())
    report = check(adapted)
    assert report.ok, report.table()
    loss_part = next(part for part in report.parts if part.kind == "loss")
    assert loss_part.torch.diffs[0].name == "loss" and loss_part.torch.diffs[0].ok


def test_a_penalty_over_the_biases_too_is_no_l2_penalty_and_fails_the_loss_alone():
    from implementations import functional_l2

    def loss_with_biases(model, scores, y):
        value, dscores = functional_l2.softmax_loss(scores, y)
        return value + 0.5 * model.reg * sum(np.sum(p * p) for p in model.params.values()), dscores

    model, _ = functional_l2.network(SIZES, reg=0.05)
    report = check(adapt_network(model, loss_with_biases, loss_twin="cross_entropy", in_features=SIZES[0]))
    assert [p.kind for p in report.failures] == ["loss"], report.table()
    assert "which is no L2 penalty lambda * sum W^2 over the model's weights" in report.failures[0].error


def test_a_loss_taking_the_model_without_one_asks_for_it():
    from implementations import functional_l2

    read = read_loss(functional_l2.loss, "cross_entropy")
    assert read.asks and "takes the model first: give model=" in read.reason


@pytest.mark.parametrize("reg, status", [(0.0, 0), (0.05, 2)])
def test_a_run_trains_the_loss_taking_the_model_and_refuses_its_penalty(reg, status, tmp_path, monkeypatch,
                                                                        synthetic, capsys):
    from reference.cli import main as cli
    from reference.cli import train as train_cli

    monkeypatch.setattr(train_cli, "load_dataset", lambda name, root, dtype, download: synthetic(dtype=dtype))
    path = tmp_path / "net.py"
    path.write_text(f"from implementations import functional_l2\n\n\ndef build(sizes, seed):\n"
                    f"    return functional_l2.network(sizes, seed, reg={reg})\n")
    code = cli.main(["--spec", "784-32-10", "--activation", "relu", "--init", "torch", "--dtype", "float64",
                     "--lr", "0.1", "--epochs", "1", "--implementation", str(path), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == status, out + err
    assert status == 0 or "its loss adds an L2 penalty 0.025 * sum W^2" in err


def test_the_summary_line_of_a_part_that_raised_says_what_it_raised():
    class Broken(nnfs_style.Activation_Softmax_Loss_CategoricalCrossentropy):
        def forward(self, inputs, y_true):
            raise KeyError("probs")

    layers, _ = nnfs_style.network(SIZES, dense=nnfs_style.Layer_DenseBiasesNotSummed)
    table = check(adapt_network(layers, Broken(), loss_twin="cross_entropy", in_features=SIZES[0])).table()
    also = table.splitlines()[-1]
    assert also.startswith("Also disagreeing") and "every way of calling it: raised KeyError: 'probs'" in also, also


def test_a_loss_leaving_its_value_and_gradient_in_attributes():
    """forward(y_pred, y_true) returns nothing, leaving the mean in .output; backward(dvalues, y_true) leaves
    the gradient in .dinputs: both read from there, and a missing 1/n still fails."""
    class AttributeLoss:
        def forward(self, y_pred, y_true):
            shifted = y_pred - y_pred.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            self.output = -log_probs[np.arange(len(y_true)), y_true].mean()

        def backward(self, dvalues, y_true):
            probs = np.exp(dvalues - dvalues.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            probs[np.arange(len(y_true)), y_true] -= 1
            self.dinputs = probs / len(y_true) if self.averaged else probs

    class Correct(AttributeLoss):
        averaged = True

    class NotAveraged(AttributeLoss):
        averaged = False

    adapted = checked(Correct(), loss_twin="cross_entropy")
    assert "forward(output, integer labels) leaves the batch mean (in `.output`)" in adapted.describe()
    assert check(adapted).ok
    first = check(checked(NotAveraged(), loss_twin="cross_entropy")).first_failure
    assert first.kind == "loss" and "batch size too big" in first.signatures
