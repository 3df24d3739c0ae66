"""`compare.py check engine FILE.py:Value` on a micrograd-style scalar autograd engine
(tests/implementations/micrograd.py): the lecture's engine and MLP agree operation by operation and
as a whole; each mistake of its MUTANTS fails at its operation's row and is named; the MLP check
finds the nonlinearity and names the layer a wrong gradient starts in; an operation the class lacks
is listed as not supported, never a traceback; what cannot run exits 2 in one line."""

import json
from pathlib import Path

import pytest
from implementations import micrograd

from reference.cli import main as cli
from reference.gradcheck import check_engine
from reference.gradcheck.engine import OPERATIONS, ORDER, OVERWRITTEN, REUSE

SOURCE = (Path(__file__).parent / "implementations" / "micrograd.py").read_text()


def engine_file(tmp_path, *replacements) -> Path:
    """micrograd.py with each (old, new) replaced; each old must occur in it."""
    text = SOURCE
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "my_engine.py"
    path.write_text(text)
    return path


def run(capsys, tmp_path, path, *argv):
    """Exit status, what was printed, and the JSON report (None when none was written)."""
    report = tmp_path / "report.json"
    status = cli.main(["check", "engine", f"{path}:Value", "--json", str(report), *map(str, argv)])
    out, err = capsys.readouterr()
    return status, out + err, json.loads(report.read_text()) if report.exists() else None


def test_the_lecture_engine_agrees_operation_by_operation_and_as_an_mlp(tmp_path, capsys):
    status, out, report = run(capsys, tmp_path, engine_file(tmp_path))
    assert status == 0 and report["ok"], out
    rows = [part["name"] for part in report["parts"] if part["kind"] == "operation"]
    assert rows == [op.name for op in OPERATIONS if op.name not in ("sigmoid()", "log()")], out
    assert report["settings"]["not_supported"] == ["sigmoid() (Value has no sigmoid)", "log() (Value has no log)"]
    assert "MLP(3, [4, 4, 1]): relu, linear last layer, parameters w then b" in out
    assert [(p["kind"], p["index"]) for p in report["parts"] if p["kind"] != "operation"] == [
        ("loss", None), ("layer", 2), ("layer", 1), ("layer", 0)]  # the order backward reaches them
    assert "Every part agrees with torch and with finite differences" in out


@pytest.mark.parametrize("mutant", micrograd.MUTANTS)
def test_each_mistake_fails_first_at_its_operation_and_is_named(mutant, tmp_path, capsys):
    old, new, row, signature = micrograd.MUTANTS[mutant]
    status, out, report = run(capsys, tmp_path, engine_file(tmp_path, (old, new)))
    first = report["first_failure"]
    assert status == 1 and first["name"] == row and signature in first["signatures"], out
    assert "Traceback" not in out


def test_overwritten_gradients_fail_only_where_a_value_is_used_twice_and_are_named_so(tmp_path, capsys):
    old, new, _, _ = micrograd.MUTANTS["grad set, not accumulated"]
    status, out, report = run(capsys, tmp_path, engine_file(tmp_path, (old, new)))
    expressions = {e.text: e for op in OPERATIONS for e in op.expressions}
    failing = [p for p in report["parts"] if p["kind"] == "operation" and not p["ok"]]
    assert status == 1 and {p["name"] for p in failing} == {"__add__", "__mul__", "__sub__", "__truediv__",
                                                           "composite", "backward()"}, out
    for part in failing:
        assert all(expressions[key.split(": ")[0]].role in (REUSE, ORDER) for key in part["failing"]), part
        assert {m["signature"] for m in part["signatures"]} == {OVERWRITTEN[0]}, part
        assert {m["tensor"] for m in part["signatures"]} == set(part["failing"]), part


def test_the_mlp_names_the_layer_a_wrong_gradient_starts_in(tmp_path, capsys):
    old, new, _, _ = micrograd.MUTANTS["relu open below zero"]
    _, out, report = run(capsys, tmp_path, engine_file(tmp_path, (old, new)))
    layers = [p for p in report["parts"] if p["kind"] == "layer"]
    assert [p["index"] for p in layers] == [2, 1, 0] and layers[0]["ok"], out  # the linear last layer: correct
    assert not layers[1]["ok"] and all(key.startswith("1.neuron ") for key in layers[1]["failing"]), out


def test_relu_derivative_1_at_0_fails_at_the_kink_in_the_operation_and_in_the_mlp(tmp_path, capsys):
    """The operation's row at z = 0 (names it), and the MLP's first layer, whose first neuron the check
    feeds exactly 0 (an engine open at 0 agrees everywhere else)."""
    old, new, _, _ = micrograd.MUTANTS["relu open at zero"]
    status, out, report = run(capsys, tmp_path, engine_file(tmp_path, (old, new)))
    failing = {p["name"] if p["kind"] == "operation" else (p["kind"], p["index"]): p["failing"]
               for p in report["parts"] if not p["ok"]}
    assert status == 1 and failing == {"relu()": ["z.relu() at z = 0: z.grad"], ("layer", 0): ["0.neuron 0"]}, out


@pytest.mark.parametrize("every_layer, found", [(False, "tanh, linear last layer"), (True, "tanh, on every layer")])
def test_the_mlps_nonlinearity_and_last_layer_are_found(every_layer, found, tmp_path, capsys):
    replacements = [("return act.relu() if self.nonlin else act", "return act.tanh() if self.nonlin else act")]
    replacements += [("nonlin=i!=len(nouts)-1", "nonlin=True")] if every_layer else []
    status, out, _ = run(capsys, tmp_path, engine_file(tmp_path, *replacements), "--spec", "2-3-2")
    assert status == 0 and f"MLP(2, [3, 2]): {found}, parameters w then b" in out, out


def test_an_operation_the_class_lacks_is_not_supported_and_does_not_fail(tmp_path, capsys):
    path = engine_file(tmp_path, ("    def __radd__(self, other): # other + self\n        return self + other\n", ""))
    status, out, report = run(capsys, tmp_path, path)
    assert status == 0 and report["settings"]["not_supported"][:2] == [
        "__radd__ (Value has no __radd__)",
        "__rsub__ (2-x needs __radd__, which Value has not (2-x raised TypeError: unsupported operand type(s) for +: "
        "'float' and 'Value'))"], out
    assert "Not supported, so not checked: __radd__ (Value has no __radd__); __rsub__" in out
    assert "Traceback" not in out



@pytest.mark.parametrize("replacements, rows, raised", [
    # a typo inside a method the class has: tanh() and the composite through it fail, never "not supported"
    ([("    def tanh(self):\n        x = self.data", "    def tanh(self):\n        x = self.dat")],
     {"tanh()", "composite"}, "AttributeError: 'Value' object has no attribute 'dat'"),
    # a reflected method that exists and raises TypeError though every method it uses is there
    ([("        return other * self**-1", "        return other * self**-1 + None")],
     {"__rtruediv__"}, "TypeError"),
])
def test_a_method_the_class_has_that_raises_fails_its_row(replacements, rows, raised, tmp_path, capsys):
    status, out, report = run(capsys, tmp_path, engine_file(tmp_path, *replacements))
    failing = {p["name"]: p for p in report["parts"] if p["kind"] == "operation" and not p["ok"]}
    assert status == 1 and set(failing) == rows, out
    assert all(raised in p["error"] for p in failing.values()), failing
    assert report["settings"]["not_supported"] == ["sigmoid() (Value has no sigmoid)", "log() (Value has no log)"]
    assert "Traceback" not in out

@pytest.mark.parametrize("replacements, argv, message", [
    ([("    def backward(self):", "    def backward_pass(self):")], [],
     "Value has no backward() method"),
    ([("        return self.w + [self.b]", "        return self.w")], [],
     "parameters() has 32 values; --spec 3-4-4-1 has 41 weights and biases"),
    ([], ["--batch-size", "4"], "unrecognized arguments: --batch-size"),
    ([], ["--layer", "x.py:Linear"], "unrecognized arguments: --layer"),
])
def test_what_cannot_run_exits_2_in_one_line(replacements, argv, message, tmp_path, capsys):
    status, out, report = run(capsys, tmp_path, engine_file(tmp_path, *replacements), *argv)
    assert status == 2 and report is None and message in out and len(out.strip().splitlines()) == 1, out


def test_check_engine_from_python_leaves_the_users_objects_alone():
    mlp = micrograd.MLP(2, [3, 1])
    before = [(p.data, p.grad) for p in mlp.parameters()]
    report = check_engine(micrograd.Value, mlp=micrograd.MLP, sizes=(2, 3, 1), seed=1)
    assert report.ok and [(p.data, p.grad) for p in mlp.parameters()] == before, report.table()
