"""Column-batch code, as the deep-learning course and its learners write it, checked in its own
conventions: the course's module of functions over a parameters dict (course_columns.py), a
class-based network of column batches (column_class.py), the course's layer pair given alone
(--layer) or wrapped by a build() (course_pair_build.py). Each correct one passes; each mutant,
the missing 1/m among them, fails at its part with its mistake named and the fix written in the
user's layout and names; a convention the probes cannot settle is refused naming its flag."""

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from implementations import column_class, course_columns

from reference.adapters.function_network import function_network
from reference.adapters.probing import ConventionError
from reference.cli import main as cli
from reference.gradcheck import check_whole_network
from reference.gradcheck.terms import Terms

FOLDER = Path(__file__).parent / "implementations"
COURSE = FOLDER / "course_columns.py"
SIZES = [5, 4, 3, 1]  # no two alike, and none the batch size (8): no shape passes for another
PAIR = f"{COURSE}:linear_forward,linear_backward"


# The course's two networks of functions: (file, initializer, sizes checked, hidden activation trained)
COURSES = {"deep": (COURSE, "initialize_parameters_deep", SIZES, "relu"),
           "two layers": (FOLDER / "course_two_layer.py", "initialize_parameters", [5, 4, 1], "tanh")}


def course_module(path=COURSE, **replaced):
    """A fresh copy of a course module with some functions replaced (its functions look each other up
    in their module, so a mutant is a module of its own)."""
    spec = importlib.util.spec_from_file_location("course_copy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, function in replaced.items():
        setattr(module, name, function)
    return module


def course_network(module, initializer="initialize_parameters_deep", sizes=SIZES):
    maker = getattr(module, initializer)
    return function_network(maker, maker(sizes) if len(sizes) != 3 or initializer.endswith("deep") else maker(*sizes),
                            {})


def run(capsys, *argv):
    status = cli.main([*map(str, argv)])
    out, err = capsys.readouterr()
    return status, out, err


def test_course_network_of_functions_agrees_in_its_conventions():
    report = check_whole_network(course_network(course_module()))
    assert report.ok, report.table()
    found = {key: report.conventions[key] for key in ("layout", "bias_shape", "batching", "loss", "reduction")}
    assert found == dict(layout="out_in", bias_shape="column", batching="columns", loss="binary_cross_entropy",
                         reduction="mean")
    assert "L_model_backward(AL, Y, caches)" in report.conventions["summary"]
    assert [part.label for part in report.parts] == ["forward", "layer 2", "layer 1", "layer 0", "optimizer"]


def test_course_two_layer_network_with_its_own_argument_order_agrees():
    path, initializer, sizes, _ = COURSES["two layers"]
    report = check_whole_network(course_network(course_module(path), initializer, sizes))
    assert report.ok, report.table()
    assert "backward_propagation(parameters, cache, X, Y)" in report.conventions["summary"]


MUTANTS = [(course, name) for course, (path, _, _, _) in COURSES.items()
           for name in course_module(path).MUTANTS]


@pytest.mark.parametrize("course, name", MUTANTS)
def test_course_mutant_is_named_at_its_part_in_the_course_terms(course, name):
    path, initializer, sizes, _ = COURSES[course]
    replaced, function, part, signature = course_module(path).MUTANTS[name]
    report = check_whole_network(course_network(course_module(path, **{replaced: function}), initializer, sizes))
    first = report.first_failure
    assert first is not None and first.label == part, report.table()
    if signature is None:
        return
    assert signature in first.signatures, first.summary()
    if part != "optimizer":
        assert "The fix, in your code's terms:" in first.summary()
        assert "dZ" in first.summary() and "G^T x" not in first.summary()  # the course's names, not torch's


def test_transposed_hint_is_the_course_line():
    _, function, _, _ = course_columns.MUTANTS["transposed dW"]
    report = check_whole_network(course_network(course_module(linear_backward=function)))
    assert "dW = dZ @ A_prev.T / m" in report.first_failure.summary()


def test_column_batch_with_bias_not_summed_is_refused_not_taken_for_one_example():
    """db = dZ / m, not summed over the batch: one example at a time would explain it (Nielsen's
    nabla_b = delta), but nothing says the code is written for one example, so it is refused."""
    def unsummed(dZ, cache):
        A_prev, W, b = cache
        return W.T @ dZ, dZ @ A_prev.T / A_prev.shape[1], dZ / A_prev.shape[1]

    with pytest.raises(ConventionError, match="batching="):
        check_whole_network(course_network(course_module(linear_backward=unsummed)))


def test_network_flag_takes_the_dict_returning_initializer(capsys):
    status, out, err = run(capsys, "check", "whole-network", f"{COURSE}:initialize_parameters_deep",
                           "--spec", "5-4-3-1")
    assert status == 0, out + err
    assert "a batch as columns (in, m)" in out and "compute_cost(AL, Y)" in out and "`parameters.W1`" in out


def test_network_flag_takes_the_module_file_alone(capsys):
    status, out, err = run(capsys, "check", "whole-network", COURSE, "--spec", "5-4-3-1")
    assert status == 0 and "initialize_parameters_deep(layer_dims) -> parameters dict" in out, out + err
    status, _, err = run(capsys, "check", "whole-network", FOLDER / "nielsen.py", "--spec", "5-4-3")
    assert status == 2 and "FILE.py:NAME" in err


def test_a_function_name_given_that_the_module_lacks_is_refused(capsys):
    status, _, err = run(capsys, "check", "whole-network", f"{COURSE}:initialize_parameters_deep", "--spec", "5-4-3-1",
                         "--cost-function", "cost_of")
    assert status == 2 and "no function cost_of" in err and "--cost-function" in err
    maker = course_module().initialize_parameters_deep  # the library names its keyword, not the flag
    with pytest.raises(ConventionError, match=r"no function cost_of \(given with cost_function=\)$"):
        function_network(maker, maker(SIZES), {"cost": "cost_of"})


def test_class_based_column_network_agrees():
    report = check_whole_network(column_class.DeepNetwork([12, 7, 5]))
    assert report.ok, report.table()
    assert report.conventions["batching"] == "columns" and report.conventions["update"] == "update_parameters"


@pytest.mark.parametrize("cls", list(column_class.MUTANTS), ids=lambda cls: cls.__name__)
def test_class_based_mutant_is_named_at_its_part(cls):
    part, signature, fix = column_class.MUTANTS[cls]
    report = check_whole_network(cls([12, 7, 5]))
    first = report.first_failure
    assert first is not None and first.label == part, report.table()
    if signature:
        assert signature in first.signatures, first.summary()
    if fix:
        assert fix in first.summary(), first.summary()


# The course's layer pair, alone and in a build() ----------------------------------------------

def test_column_pair_is_checked_with_its_batch_as_columns(capsys):
    status, out, err = run(capsys, "check", "layer", PAIR, "--batching", "columns", "--param-grads", "mean")
    assert status == 0, out + err
    assert "a batch as columns (in, m); dW and db averaged over the batch in backward" in out


def test_column_pair_without_the_averaging_stated_is_refused_naming_the_flag(capsys):
    status, _, err = run(capsys, "check", "layer", PAIR, "--batching", "columns")
    assert status == 2 and "--param-grads" in err


def test_column_pair_missing_one_over_m_fails_with_the_course_fix(capsys):
    status, out, _ = run(capsys, "check", "layer", f"{COURSE}:linear_forward,linear_backward_without_m",
                         "--batching", "columns", "--param-grads", "mean")
    assert status == 1
    assert "batch size too big" in out and "dW = dZ @ A_prev.T / m" in out


def test_in_out_user_reads_the_in_out_line(tmp_path, capsys):
    """affine_backward with the (out, in) product for its (in, out) weight: the fix shown is x.T @ G."""
    path = tmp_path / "layers.py"
    path.write_text((FOLDER / "functional.py").read_text() + "\n\ndef affine_backward_transposed(dout, cache):\n"
                    "    x, w, b = cache\n    return dout @ w.T, dout.T @ x, dout.sum(axis=0)\n")
    status, out, _ = run(capsys, "check", "layer", f"{path}:affine_forward,affine_backward_transposed")
    assert status == 1
    assert "The fix, in your code's terms: dW = X.T @ G." in out


@pytest.mark.parametrize("layout, batching, averaged, line", [
    ("in_out", "rows", False, "dW = X.T @ G"), ("out_in", "rows", False, "dW = G.T @ X"),
    ("out_in", "columns", True, "dW = dZ @ A_prev.T / m"), ("in_out", "columns", False, "dW = A_prev @ dZ.T")])
def test_terms_write_the_weight_gradient_in_the_users_layout(layout, batching, averaged, line):
    assert Terms(layout, batching, averaged).fix("transposed weight gradient") == line


def mutant_build(tmp_path, backward="linear_backward_without_m"):
    folder = tmp_path / "submissions"
    folder.mkdir()
    path = folder / "net.py"
    path.write_text("from tests.implementations import course_pair_build\n"
                    f"from tests.implementations.course_columns import {backward}, linear_forward\n\n"
                    "CONVENTIONS = course_pair_build.CONVENTIONS\n\n\n"
                    "def build(sizes):\n"
                    f"    return course_pair_build.build(sizes, linear=(linear_forward, {backward}))\n")
    return path


def test_build_wrapping_the_pair_passes_and_its_missing_one_over_m_fails_check(tmp_path, capsys):
    options = ("--spec", "784-16-10", "--activation", "relu")
    status, out, err = run(capsys, "check", "implementation", f"{FOLDER / 'course_pair_build.py'}:build", *options)
    assert status == 0, out + err
    status, out, _ = run(capsys, "check", "implementation", f"{mutant_build(tmp_path)}:build", *options)
    assert status == 1 and "batch size too big" in out


def test_build_wrapping_the_pair_without_the_averaging_stated_is_refused(tmp_path, capsys):
    path = tmp_path / "net.py"
    path.write_text("from tests.implementations.course_pair_build import build  # noqa: F401\n")
    status, _, err = run(capsys, "check", "implementation", f"{path}:build", "--spec", "784-16-10",
                         "--activation", "relu")
    assert status == 2 and "--param-grads" in err


def test_build_wrapping_the_pair_missing_one_over_m_fails_training(tmp_path, synthetic):
    from reference.training.run import TwinTraining
    from reference.training.run_config import RunConfig

    config = RunConfig(spec="784-16-10", activation="relu", init="torch", dtype="float64", lr=0.1, epochs=1,
                       implementation=f"{mutant_build(tmp_path)}:build").validate()
    training = TwinTraining(config, concurrency="sequential")
    records = list(training.epochs(synthetic(n_train=64, n_eval=16)))
    divergence = training.first_divergence(synthetic(n_train=64, n_eval=16))
    assert divergence.step == 1 and "batch size too big" in divergence.signatures, records


def test_build_wrapping_the_pair_missing_one_over_m_loses_marks(tmp_path, capsys):
    """Graded in its sandbox a submission sees its own folder alone: each is a folder holding the
    course's functions beside the build() that wraps them."""
    folder = tmp_path / "submissions"
    pair = (FOLDER / "course_pair_build.py").read_text().replace("from tests.implementations.course_columns import",
                                                                 "from course_columns import")
    for name, backward in (("correct", "linear_backward"), ("net", "linear_backward_without_m")):
        (folder / name).mkdir(parents=True)
        (folder / name / "course_columns.py").write_text((FOLDER / "course_columns.py").read_text())
        (folder / name / "course_pair_build.py").write_text(pair)
        (folder / name / "submission.py").write_text(
            f"import course_pair_build\nfrom course_columns import {backward}, linear_forward\n\n"
            "CONVENTIONS = course_pair_build.CONVENTIONS\n\n\n"
            f"def build(sizes):\n    return course_pair_build.build(sizes, linear=(linear_forward, {backward}))\n")
    status, out, err = run(capsys, "grade", folder, "--activations", "relu")
    rows = {line.split()[0]: line.split()[-1] for line in out.splitlines() if line.endswith(("/3", "/4", "/5"))}
    passed, graded = rows["correct/"].split("/")
    assert passed == graded and rows["net/"] != rows["correct/"], out + err


# Binary cross-entropy --------------------------------------------------------------------------

def test_binary_cross_entropy_is_torchs_bce():
    import scratch_nn
    rng = np.random.default_rng(0)
    probs, labels = 1 / (1 + np.exp(-rng.standard_normal((7, 1)))), rng.integers(0, 2, 7)
    loss = scratch_nn.BinaryCrossEntropy()
    value, grad = loss.forward(probs, labels), loss.backward()
    p = torch.from_numpy(probs).requires_grad_()
    expected = torch.nn.BCELoss()(p, torch.from_numpy(labels.astype(np.float64)).reshape(-1, 1))
    expected.backward()
    # float64, the same formula on both sides: equal to rounding (torch.testing's float64 defaults)
    torch.testing.assert_close(torch.tensor(value), expected.detach())
    torch.testing.assert_close(torch.from_numpy(grad), p.grad)


def test_network_with_binary_cross_entropy_checks(capsys):
    status, out, err = run(capsys, "check", "network", "--spec", "6-4-1", "--activation", "relu", "--output-activation",
                           "sigmoid", "--loss", "binary_cross_entropy")
    assert status == 0, out + err


# Training: each correct one to torch's numbers (float64, one epoch on a small set) -------------

@pytest.mark.parametrize("course", list(COURSES))
def test_course_functions_train_to_torchs_numbers_and_the_missing_m_does_not(course, synthetic, tmp_path):
    from reference.training.run import DivergedError, TwinTraining
    from reference.training.run_config import RunConfig

    path, initializer, _, activation = COURSES[course]
    replaced, function, part, _ = course_module(path).MUTANTS["missing 1/m"]
    bad = tmp_path / "course_bad.py"
    bad.write_text(path.read_text() + f"\n\n{replaced} = {function.__name__}\n")
    data = synthetic(n_train=96, n_eval=32)  # the run labels class 0 against the rest (positive_class)
    results = {}
    for name, file in (("correct", path), ("missing 1/m", bad)):
        config = RunConfig(spec="784-16-1", activation=activation, output_activation="sigmoid", init="torch",
                           loss="binary_cross_entropy", positive_class=0, dtype="float64", lr=0.05, epochs=1,
                           implementation=f"{file}:{initializer}").validate()
        training = TwinTraining(config, concurrency="sequential", lockstep=True)
        try:
            records = list(training.epochs(data))
        except DivergedError:  # the mutant's steps m times too big saturate its sigmoid: its loss is not finite
            records = [None]
        results[name] = (records[-1], training.first_divergence(data))
    record, divergence = results["correct"]
    assert divergence.step is None, divergence.text
    # float64, the same arithmetic on both sides: the run's own tolerance, 1e-10 of each tensor's scale
    assert record.divergence.within_tolerance and record.divergence.worst_scaled_abs < 1e-10
    assert record.scratch.train_loss == pytest.approx(record.torch.train_loss, rel=1e-10)
    _, divergence = results["missing 1/m"]
    assert divergence.step == 1 and divergence.part == part.replace("2", "1") and \
        "batch size too big" in divergence.signatures  # the run's layers: 16 -> 1 is "layer 1" in either


def test_class_based_column_network_trains_to_torchs_numbers():
    """Its own forward, backward and update_parameters, one epoch of batches, beside torch.optim.SGD on its
    twin from the same weights: equal within float64 rounding of a few hundred steps."""
    from reference.gradcheck.network_twin import twin_loss, twin_model

    rng = np.random.default_rng(0)
    X, labels = rng.random((96, 20)), rng.integers(0, 5, 96)
    net = column_class.DeepNetwork([20, 9, 5])
    params = [(net.parameters[f"W{n}"].copy(), net.parameters[f"b{n}"].ravel().copy()) for n in (1, 2)]
    model = twin_model(params, ("tanh", "softmax"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    for start in range(0, 96, 16):
        x, y = X[start:start + 16], labels[start:start + 16]
        net.forward(x.T)
        net.backward(np.eye(5)[y].T)
        net.update_parameters(0.5)
        optimizer.zero_grad()
        twin_loss(model(torch.from_numpy(x)), y, "cross_entropy", "mean", "softmax").backward()
        optimizer.step()
    for number, index in ((1, 0), (2, 2)):
        # float64 on both sides, 6 steps: torch.testing's float64 tolerances (rtol 1e-7, atol 1e-7)
        torch.testing.assert_close(torch.from_numpy(net.parameters[f"W{number}"]), model[index].weight.detach())
        torch.testing.assert_close(torch.from_numpy(net.parameters[f"b{number}"].ravel()), model[index].bias.detach())


def test_grade_network_of_functions_gives_the_missing_m_less_than_full_marks(tmp_path, capsys):
    (tmp_path / "correct.py").write_text(COURSE.read_text())
    (tmp_path / "missing_m.py").write_text(COURSE.read_text() + "\n\nlinear_backward = linear_backward_without_m\n")
    status, out, err = run(capsys, "grade", tmp_path, "--network", "initialize_parameters_deep", "--spec", "784-16-1")
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("correct", "missing"))}
    assert rows["correct.py"] == ["ok", "ok", "ok", "ok", "4/4"], out + err
    assert rows["missing_m.py"][-1] != "4/4" and rows["missing_m.py"][1] == "FAIL", out


class ColumnLinear:
    """A layer class on a batch of columns with 3 inputs: the probe's usual batch size, 3, would let a
    (3, 3) batch pass for rows; the probe takes a batch size that is none of the layer's sizes."""

    def __init__(self, averaged=True):
        self.W, self.b, self.averaged = np.random.default_rng(0).standard_normal((4, 3)), np.zeros((4, 1)), averaged

    def forward(self, A):
        self.A = A
        return self.W @ A + self.b

    def backward(self, dZ):
        m = self.A.shape[1] if self.averaged else 1
        self.dW, self.db = dZ @ self.A.T / m, dZ.sum(axis=1, keepdims=True) / m
        return self.W.T @ dZ


def test_column_layer_class_is_probed_with_a_batch_of_no_layer_size():
    from reference.gradcheck import check

    report = check(ColumnLinear(), twin="linear", param_grads="mean")
    assert report.ok and "a batch as columns (in, m)" in report.conventions["summary"], report.table()
    report = check(ColumnLinear(averaged=False), twin="linear", param_grads="mean")
    assert not report.ok and "batch size too big" in report.first_failure.signatures
    with pytest.raises(ConventionError, match="param_grads="):
        check(ColumnLinear(), twin="linear")


def test_param_grads_is_honoured_for_a_batch_of_rows_too(tmp_path, capsys):
    """A rows layer that averages dW and db itself: it passes where --param-grads mean says so, and is
    the doubled 1/m where nothing says so (the rows' default: the 1/n is in the upstream gradient)."""
    path = tmp_path / "layers.py"
    path.write_text((FOLDER / "functional.py").read_text() + "\n\ndef affine_backward_mean(dout, cache):\n"
                    "    dx, dw, db = affine_backward(dout, cache)\n    return dx, dw / len(dout), db / len(dout)\n")
    pair = f"{path}:affine_forward,affine_backward_mean"
    status, out, _ = run(capsys, "check", "layer", pair, "--param-grads", "mean")
    assert status == 0 and "averaged over the batch in backward" in out, out
    status, out, _ = run(capsys, "check", "layer", pair)
    assert status == 1 and "batch size too small" in out


@pytest.mark.parametrize("output, error, message", [
    (np.full((2, 3), 0.5), ValueError, "binary cross-entropy takes one output unit, (n, 1); got (2, 3)"),
    (np.array([[0.5], [1.0]]), FloatingPointError, "binary cross-entropy got output[1, 0] = 1.0"),
])
def test_binary_cross_entropy_refuses_what_it_cannot_take(output, error, message):
    import scratch_nn
    with pytest.raises(error, match=re.escape(message)):
        scratch_nn.BinaryCrossEntropy().forward(output, np.array([0, 1]))
