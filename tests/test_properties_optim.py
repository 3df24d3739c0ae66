"""Properties of the optimizers that optim/ promises and the torch comparisons do not pin down:
each update rule against its formula (written out here from the docstrings, step by step, in
float64) for settings torch's defaults leave untouched, the state each keeps, what
load_state_dict accepts and how it refuses the rest, and how an optimizer prints.
Found by mutation testing (tools/mutation.py).

Formulas and optimizer compute the same float64 operations in a different grouping, so they
agree to tolerances.FLOAT64 (a few ulps), far below any change of a constant or a sign.
"""

import re

import numpy as np
import pytest
import torch

from reference import tolerances
from scratch_nn import SGD, Adam, AdamW, Linear, RMSprop, Sequential

F64 = tolerances.FLOAT64
STEPS = 4


def network():
    """One Linear 3 -> 2 whose gradients the tests set by hand (layer.grads, as backward leaves them)."""
    rng = np.random.default_rng(0)
    return Sequential(Linear(rng.standard_normal((2, 3)), rng.standard_normal(2)))


def gradients(seed=1):
    """STEPS gradients for the weight and the bias, of both signs and several sizes."""
    rng = np.random.default_rng(seed)
    return [{"weight": rng.standard_normal((2, 3)), "bias": rng.standard_normal(2)} for _ in range(STEPS)]


def run(make, grads):
    """The weight after each step of make(network) fed the given gradients; and the optimizer."""
    net = network()
    optimizer = make(net)
    weights = []
    for g in grads:
        net.layers[0].grads = {name: value.copy() for name, value in g.items()}
        optimizer.step()
        weights.append(net.layers[0].params["weight"].copy())
    return weights, optimizer


def sgd_formula(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    out, b = [], None
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            b = g if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
        out.append(p)
    return out


def adam_formula(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False):
    (b1, b2), m, v, v_max, out = betas, 0.0, 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        v_max = np.maximum(v_max, v)
        v_hat = (v_max if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


def rmsprop_formula(p, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    v, a, b, out = 0.0, 0.0, 0.0, []
    for g in grads:
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        a = alpha * a + (1 - alpha) * g
        d = np.sqrt(v - a * a if centered else v) + eps
        if momentum > 0:
            b = momentum * b + g / d
            p = p - lr * b
        else:
            p = p - lr * g / d
        out.append(p)
    return out


# Large epsilons and rates, so that no term is negligible against another.
CASES = [
    (SGD, sgd_formula, dict(lr=0.1)),
    (SGD, sgd_formula, dict(lr=0.1, momentum=0.5)),
    (SGD, sgd_formula, dict(lr=0.1, momentum=0.5, dampening=0.25, weight_decay=0.2)),
    (SGD, sgd_formula, dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.2)),
    (Adam, adam_formula, dict()),
    (Adam, adam_formula, dict(lr=0.1, betas=(0.5, 0.75), eps=0.1, weight_decay=0.2)),
    (Adam, adam_formula, dict(lr=0.1, betas=(0.5, 0.75), eps=0.1, amsgrad=True)),
    (AdamW, lambda p, g, **o: adam_formula(p, g, decoupled=True, **{"weight_decay": 1e-2, **o}), dict()),
    (AdamW, lambda p, g, **o: adam_formula(p, g, decoupled=True, **o),
     dict(lr=0.1, betas=(0.5, 0.75), eps=0.1, weight_decay=0.2, amsgrad=True)),
    (RMSprop, rmsprop_formula, dict()),
    (RMSprop, rmsprop_formula, dict(lr=0.1, alpha=0.5, eps=0.1, weight_decay=0.2)),
    (RMSprop, rmsprop_formula, dict(lr=0.1, alpha=0.5, eps=0.1, momentum=0.5, centered=True)),
]


@pytest.mark.parametrize("cls,formula,options", CASES, ids=[f"{c.__name__}{o}" for c, _, o in CASES])
def test_every_step_is_the_documented_formula(cls, formula, options):
    weights, _ = run(lambda net: cls(net, **options), gradients())
    expected = formula(network().layers[0].params["weight"], [g["weight"] for g in gradients()], **options)
    for step, (got, want) in enumerate(zip(weights, expected), start=1):
        np.testing.assert_allclose(got, want, rtol=F64.rtol, atol=F64.atol, err_msg=f"step {step}")


def test_amsgrad_keeps_the_largest_second_moment_seen():
    """A large gradient, then small ones: v falls, v_max stays at its peak."""
    grads = [{"weight": np.full((2, 3), s), "bias": np.full(2, s)} for s in (10.0, 0.1, 0.1, 0.1)]
    _, optimizer = run(lambda net: Adam(net, betas=(0.5, 0.5), amsgrad=True), grads)
    state = optimizer.state_dict()["state"][0]
    assert state["step"] == STEPS
    v = 0.0
    peak = 0.0
    for g in (10.0, 0.1, 0.1, 0.1):
        v = 0.5 * v + 0.5 * g * g
        peak = max(peak, v)
    np.testing.assert_allclose(state["exp_avg_sq"], np.full((2, 3), v), rtol=F64.rtol)
    np.testing.assert_allclose(state["max_exp_avg_sq"], np.full((2, 3), peak), rtol=F64.rtol)


@pytest.mark.parametrize("make,keys", [
    (lambda n: SGD(n, lr=0.1), None),
    (lambda n: SGD(n, lr=0.1, momentum=0.5), ["momentum_buffer"]),
    (lambda n: Adam(n), ["exp_avg", "exp_avg_sq", "step"]),
    (lambda n: Adam(n, amsgrad=True), ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]),
    (lambda n: RMSprop(n), ["square_avg", "step"]),
    (lambda n: RMSprop(n, momentum=0.5, centered=True), ["grad_avg", "momentum_buffer", "square_avg", "step"]),
])
def test_state_holds_torchs_keys_per_parameter_and_the_step_count(make, keys):
    _, optimizer = run(make, gradients())
    state = optimizer.state_dict()["state"]
    if keys is None:  # plain SGD keeps nothing
        assert state == {}
        return
    assert list(state) == [0, 1] and all(sorted(entry) == keys for entry in state.values())
    assert all(entry.get("step", STEPS) == STEPS for entry in state.values())


def test_state_dict_returns_copies():
    _, optimizer = run(lambda n: Adam(n), gradients())
    state = optimizer.state_dict()
    state["state"][0]["exp_avg"][...] = 0
    assert optimizer.state_dict()["state"][0]["exp_avg"].any()


@pytest.mark.parametrize("optimizer,text", [
    (lambda n: SGD(n, lr=0.1), "SGD(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False)"),
    (lambda n: Adam(n), "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, amsgrad=False)"),
    (lambda n: AdamW(n, betas=(0.5, 0.75)),
     "AdamW(lr=0.001, betas=(0.5, 0.75), eps=1e-08, weight_decay=0.01, amsgrad=False)"),
    (lambda n: RMSprop(n), "RMSprop(lr=0.01, momentum=0.0, alpha=0.99, eps=1e-08, centered=False, weight_decay=0.0)"),
])
def test_repr_lists_every_hyperparameter_in_torchs_order(optimizer, text):
    assert repr(optimizer(network())) == text


# load_state_dict: what it accepts, and every refusal named at once.
def loaded(make, state_dict):
    optimizer = make(network())
    optimizer.load_state_dict(state_dict)
    return optimizer


def adam_state():
    return run(lambda n: Adam(n, lr=0.01), gradients())[1].state_dict()


def refusal(make, state_dict) -> list[str]:
    """The problems load_state_dict lists, one a line."""
    with pytest.raises(ValueError) as failure:
        loaded(make, state_dict)
    head, *problems = str(failure.value).split("\n  ")
    assert head == "load_state_dict: the state does not fit this optimizer:"
    return problems


@pytest.mark.parametrize("groups", [lambda g: None, lambda g: [], lambda g: g, lambda g: (g,), lambda g: [g, g]],
                         ids=["none", "empty", "a dict", "a tuple", "two"])
def test_anything_but_a_list_of_one_param_group_is_refused(groups):
    state = adam_state()
    with pytest.raises(ValueError, match="^" + re.escape(
            "load_state_dict: expected 'param_groups' holding one group (scratch_nn optimizers "
            "have one group over all parameters)") + "$"):
        loaded(Adam, {**state, "param_groups": groups(state["param_groups"][0])})


def test_every_problem_is_listed_at_once_and_nothing_is_loaded():
    state = adam_state()
    group = {**state["param_groups"][0], "params": [0], "decoupled_weight_decay": True, "nesterov": False}
    optimizer = Adam(network(), lr=0.5)
    with pytest.raises(ValueError) as failure:
        optimizer.load_state_dict({"state": {**state["state"], 2: state["state"][0]}, "param_groups": [group]})
    assert str(failure.value).split("\n  ")[1:] == [
        "the group's params are [0]; this network has 2 parameters, so expected [0, 1]",
        "decoupled_weight_decay=True, but Adam has decoupled_weight_decay=False",
        "unknown setting 'nesterov' for Adam",
        "state for parameter 2, but the parameters are 0..1"]
    assert optimizer.lr == 0.5 and optimizer.state == {}


def test_a_group_without_params_is_refused_naming_what_it_expected():
    state = adam_state()
    group = {key: value for key, value in state["param_groups"][0].items() if key != "params"}
    assert refusal(Adam, {**state, "param_groups": [group]}) == [
        "the group's params are None; this network has 2 parameters, so expected [0, 1]"]


def test_a_setting_the_group_leaves_out_keeps_its_current_value():
    state = adam_state()
    group = {key: value for key, value in state["param_groups"][0].items() if key != "eps"}
    optimizer = loaded(lambda n: Adam(n, eps=0.25), {**state, "param_groups": [group]})
    assert (optimizer.eps, optimizer.lr) == (0.25, 0.01)


@pytest.mark.parametrize("step,accepted", [(0, True), (3, True), (np.int64(3), True), (torch.tensor(3.0), True),
                                           (-1, False), (1.5, False), (np.array([3]), False)])
def test_step_must_be_a_whole_number_at_least_0(step, accepted):
    state = adam_state()
    state["state"][0]["step"] = step
    if accepted:
        assert loaded(Adam, state).state_dict()["state"][0]["step"] == int(step)
    else:
        assert refusal(Adam, state) == [f"parameter 0: step must be a whole number >= 0; got {np.asarray(step)}"]


def test_state_a_setting_does_not_keep_is_refused_naming_the_keys():
    """A momentum buffer loaded into plain SGD would be silently ignored: it is refused instead."""
    momentum = run(lambda n: SGD(n, lr=0.1, momentum=0.5), gradients())[1].state_dict()
    group = {**momentum["param_groups"][0], "momentum": 0.0}
    problems = refusal(lambda n: SGD(n, lr=0.1), {**momentum, "param_groups": [group]})
    assert problems[0] == ("parameter 0 (weight of Linear(in_features=3, out_features=2)): state keys "
                           "['momentum_buffer'], expected [] for these settings")


def test_with_a_bad_setting_the_state_is_checked_for_shapes_only():
    """Which state keys to expect depends on the settings: with one refused, only it is reported."""
    state = adam_state()
    group = {**state["param_groups"][0], "lr": -1.0}
    assert refusal(Adam, {**state, "param_groups": [group]}) == [
        "Adam: the learning rate must be a positive number; got lr=-1.0"]


def test_state_entries_are_checked_each_in_turn_after_a_bad_index():
    state = adam_state()
    entry, wrong = state["state"][0], {**state["state"][1], "exp_avg": state["state"][1]["exp_avg"].astype(np.float32)}
    assert refusal(Adam, {**state, "state": {"0": entry, 1: wrong}}) == [
        "state for parameter '0', but the parameters are 0..1",
        "parameter 1: exp_avg is float32(2,), expected float64(2,) like the parameter"]


def test_a_state_dict_without_state_loads_the_settings_and_no_state():
    state = adam_state()
    optimizer = loaded(Adam, {"param_groups": state["param_groups"]})
    assert optimizer.lr == 0.01 and optimizer.state_dict()["state"] == {}


@pytest.mark.parametrize("make,message", [
    (lambda n: Adam(n, betas=(1.0, 0.999)), "Adam: beta1 must be a number in [0, 1); got beta1=1.0"),
    (lambda n: Adam(n, betas=(0.9,)), "Adam: betas must be a pair (beta1, beta2); got (0.9,)"),
    (lambda n: RMSprop(n, eps=0.0), "RMSprop: eps must be a positive number; got eps=0.0"),
])
def test_hyperparameters_out_of_range_are_refused_with_the_range(make, message):
    with pytest.raises((TypeError, ValueError), match="^" + re.escape(message) + "$"):
        make(network())


@pytest.mark.parametrize("make", [lambda n: Adam(n, betas=(0.0, 0.0)), lambda n: SGD(n, lr=0.1, dampening=1.0),
                                  lambda n: RMSprop(n, alpha=0.0)])
def test_the_closed_ends_of_each_range_are_accepted(make):
    make(network())


def test_a_flag_that_is_not_a_bool_is_refused_naming_the_class():
    with pytest.raises(TypeError, match="^" + re.escape("Adam: amsgrad must be True or False; got 'yes'") + "$"):
        Adam(network(), amsgrad="yes")
