"""One-line assertions for a course's or a project's own pytest suite: a user's layer, or whole
network, in the user's own conventions, checked against PyTorch and finite differences.

    from reference.asserts import assert_layer_matches_torch, assert_network_matches_torch

    def test_my_linear():
        assert_layer_matches_torch(Linear, "linear")                 # a class, or an instance

    def test_my_network():
        assert_network_matches_torch([Linear(784, 32, 0.1), ReLU(), Linear(32, 10, 0.1)],
                                     CrossEntropy(), loss_twin="cross_entropy", in_features=784)

On a disagreement they raise AssertionError shaped for pytest: the first line is the verdict (the
part, the tensor, how many elements lie outside which tolerance, what the mistake looks like), so
`pytest -ra`'s summary line says what failed; then one line per part, the first disagreement in
full, and last the conventions found. The assertion's own frames are hidden from pytest's
traceback (__tracebackhide__), so the failure points at the line of the user's test.
On success they return the report.

rtol, atol, msg are torch.testing.assert_close's keywords: rtol and atol (both or neither) replace
the measured tolerance of every comparison with torch (reference.tolerances), with this project's
meaning of atol, a fraction of the tensor's largest torch value (max|torch|), so that one atol fits
logits and gradients alike; finite differences keep their own. msg: a string put before the verdict
(the verdict is never dropped), or a function given the whole message that returns the one to raise.
The other keyword arguments are reference.gradcheck.check's: the checker's own (x, target,
batch_size, seed, fd_samples, optimizer_steps, zero_grad, ...) and the adapters' conventions
(reference.adapters, e.g. layout="in_out", backward="x,grad", lr=0.1, loss_twin="cross_entropy",
in_features=784).
"""

import contextlib

from reference import tolerances
from reference.gradcheck import check


def assert_layer_matches_torch(layer, twin=None, *, rtol=None, atol=None, msg=None, **options):
    """AssertionError, verdict first, unless the layer (instance, class or functional pair)
    computes what its torch twin ("linear", "sigmoid", "relu", "tanh") computes."""
    __tracebackhide__ = True
    with tolerance(rtol, atol):
        report = check(layer, twin=twin, **options)
    return assert_ok(report, msg)


def assert_network_matches_torch(layers, loss=None, *, rtol=None, atol=None, msg=None, **options):
    """AssertionError, verdict first, unless every layer, the loss and the update of the network
    (a list of layers, or an object holding them) agree with torch."""
    __tracebackhide__ = True
    with tolerance(rtol, atol):
        report = check(layers, loss=loss, **options)
    return assert_ok(report, msg)


def tolerance(rtol, atol):
    """The caller's tolerance where given (both, as torch.testing.assert_close requires), else the measured one."""
    if (rtol is None) != (atol is None):
        raise ValueError(f"give rtol and atol together, or neither (as torch.testing.assert_close); got "
                         f"rtol={rtol!r}, atol={atol!r}")
    return contextlib.nullcontext() if rtol is None else tolerances.given(rtol, atol)


def assert_ok(report, msg=None):
    """The report, or an AssertionError with failure_message's text."""
    __tracebackhide__ = True
    if report.ok:
        return report
    text = failure_message(report)
    if callable(msg):
        text = msg(text)
    elif msg:
        text = f"{msg}: {text}"
    raise AssertionError(text)


def failure_message(report) -> str:
    """The verdict; a line per part; the first disagreement in full and the others named; what was
    checked; the conventions found (what the adapters read the code as) last."""
    first, s = report.first_failure, report.settings
    view = report.view()
    lines = [report.verdict(), "", *view.text().splitlines()[1:len(view.rows) + 2], "",
             "FIRST DISAGREEMENT: " + first.summary()]
    others = [f"{p.label} ({', '.join(p.failing) or 'raised'})" for p in report.failures[1:]]
    lines += [f"Also disagreeing: {'; '.join(others)}"] if others else []
    batch = f", batch size {s['batch_size']}" if "batch_size" in s else ""
    lines += ["", (f"Checked: {s['subject']} ({s['dtype']}{batch}, seed {s['seed']}); print(reference.check(...)) "
                   f"for the full table.")]
    if report.conventions:
        lines += ["", report.conventions["summary"]]
    return "\n".join(lines)
