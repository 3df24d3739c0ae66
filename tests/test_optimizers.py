"""Every scratch optimizer and option against torch.optim with identical hyperparameters.

Checked after every one of several consecutive steps, from identical weights, state and
gradients: each parameter, its update and every state tensor (reference.optimizers), in float64
(tolerances.FLOAT64) and float32 (tolerances.FLOAT32; the update's bound widens to the parameter's
own rounding, tolerances.optimizer_update). Then whole-network training on both sides, state
dicts moved between the sides mid-training, hyperparameter errors, and the repeated-backward
check; the optimizer zoo, the negative controls, is in test_zoo_optimizers.py. Finite differences do not
apply here: an optimizer
computes no gradient, so there is no derivative to approximate; torch.optim is the only judge.
"""

import numpy as np
import pytest
import torch
import zoo_optimizers as zoo

from reference.optimizers import (
    TORCH_OPTIMIZERS,
    compare_optimizer_steps,
    compare_repeated_backward,
    compare_training,
    scratch_state_dict,
    torch_optimizer,
    torch_state_dict,
)
from reference.twin import torch_model
from scratch_nn import (
    OPTIMIZERS,
    SGD,
    Adam,
    AdamW,
    RMSprop,
    Sequential,
    SoftmaxCrossEntropy,
    Tanh,
    build_network,
)

DTYPES = [np.float64, np.float32]

CASES = [
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.1, momentum=0.9)),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.5)),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (SGD, dict(lr=0.1, weight_decay=0.1)),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (Adam, dict()),
    (Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    (Adam, dict(lr=0.01, amsgrad=True)),
    (Adam, dict(lr=0.01, weight_decay=0.1)),
    (Adam, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    (AdamW, dict()),
    (AdamW, dict(lr=0.01, weight_decay=0.1)),
    (AdamW, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    (RMSprop, dict()),
    (RMSprop, dict(alpha=0.9, eps=1e-6)),
    (RMSprop, dict(momentum=0.9)),
    (RMSprop, dict(centered=True)),
    (RMSprop, dict(weight_decay=0.1)),
    (RMSprop, dict(momentum=0.9, centered=True, weight_decay=0.1)),
]
CASE_IDS = [f"{cls.__name__}({', '.join(f'{k}={v}' for k, v in options.items())})" for cls, options in CASES]


def small_network(dtype, seed=0):
    """7-5-3: non-square layers, so a transposed state or update cannot fit."""
    return build_network("7-5-3", "tanh", init="torch", seed=seed, dtype=dtype)


def assert_agree(trajectory):
    for comparison in trajectory:
        comparison.assert_ok()


def batches(features, classes, dtype, count, n):
    """count batches of n inputs in [0, 1) with integer labels."""
    rng = np.random.default_rng(0)
    return [(rng.random((n, features)).astype(dtype), rng.integers(0, classes, n)) for _ in range(count)]


# Step by step, from identical weights and gradients ---------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls, options", CASES, ids=CASE_IDS)
def test_steps_match_torch(cls, options, dtype):
    assert_agree(compare_optimizer_steps(cls(small_network(dtype), **options), steps=6))


@pytest.mark.parametrize("cls, options", CASES, ids=CASE_IDS)
def test_learning_rate_schedule_matches_torch(cls, options):
    """The learning rate changed between steps on both sides (what a scheduler does)."""
    lr = options.get("lr", 0.01)
    schedule = [lr, lr, lr / 2, lr / 4, 2 * lr, lr]
    assert_agree(compare_optimizer_steps(cls(small_network(np.float64), **options), steps=6, lrs=schedule))


# Whole networks, forward and backward on both sides ------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, lr", [("adam", 1e-3), ("momentum", 0.1)])
def test_training_trajectory(name, lr, dtype):
    """20 free-running steps of 784-32-10 at batch 32: parameters and state after every step.
    Measured worst: 0.017 of the float32 tolerance (Adam), 0.008 of the float64 one."""
    network = build_network("784-32-10", "sigmoid", init="torch", dtype=dtype)
    model = torch_model(network)
    trajectory = compare_training(network, model, batches(784, 10, dtype, 20, 32), SoftmaxCrossEntropy(),
                                  OPTIMIZERS[name](network, lr=lr))
    assert_agree(trajectory)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_training_at_batch_one(name):
    network = small_network(np.float64)
    trajectory = compare_training(network, torch_model(network), batches(7, 3, np.float64, 8, 1), SoftmaxCrossEntropy(),
                                  OPTIMIZERS[name](network, lr=0.01))
    assert_agree(trajectory)


# State dicts, moved between the sides mid-training ----------------------------------------------

@pytest.mark.parametrize("cls, options", CASES, ids=CASE_IDS)
def test_scratch_state_continues_in_torch(cls, options):
    """3 steps on scratch, then its state_dict loaded into a fresh torch.optim optimizer (of other
    hyperparameters: they travel in the state dict too); both continue."""
    optimizer = cls(small_network(np.float64), **options)
    compare_optimizer_steps(optimizer, steps=3)
    params = [torch.from_numpy(v.copy()) for v in optimizer.network.state_dict().values()]
    twin = dict(TORCH_OPTIMIZERS)[cls](params, lr=1.0)
    twin.load_state_dict(torch_state_dict(optimizer.state_dict(), twin))
    assert twin.state_dict()["state"].keys() == optimizer.state_dict()["state"].keys()
    assert_agree(compare_optimizer_steps(optimizer, steps=3, seed=1, twin=twin))


@pytest.mark.parametrize("cls, options", CASES, ids=CASE_IDS)
def test_torch_state_continues_in_scratch(cls, options):
    """3 steps of torch.optim alone, then its weights and state_dict (tensors as they are) loaded into
    a fresh scratch network and optimizer; both continue."""
    network = small_network(np.float64)
    params = [torch.from_numpy(v.copy()) for v in network.state_dict().values()]
    twin = torch_optimizer(cls(network, **options), params)
    rng = np.random.default_rng(0)
    for _ in range(3):
        for param in params:
            param.grad = torch.from_numpy(rng.standard_normal(param.shape))
        twin.step()
    network.load_state_dict({key: p.numpy() for key, p in zip(network.state_dict(), params)})
    optimizer = cls(network, lr=1.0)  # every hyperparameter comes from the state
    optimizer.load_state_dict(twin.state_dict())
    assert optimizer.param_group() == {k: v for k, v in twin.param_groups[0].items() if k in optimizer.param_group()}
    assert_agree(compare_optimizer_steps(optimizer, steps=3, seed=1, twin=twin))


@pytest.mark.parametrize("cls, options", CASES, ids=CASE_IDS)
def test_state_dict_round_trip_is_exact(cls, options):
    """state_dict() into a fresh optimizer on a copy of the network: the next steps are bit for bit the same."""
    first = cls(small_network(np.float64), **options)
    compare_optimizer_steps(first, steps=3)
    second = cls(small_network(np.float64), lr=1.0)
    second.network.load_state_dict(first.network.state_dict())
    second.load_state_dict(first.state_dict())
    compare_optimizer_steps(first, steps=2, seed=1)
    compare_optimizer_steps(second, steps=2, seed=1)
    for key, value in first.network.state_dict().items():
        np.testing.assert_array_equal(second.network.state_dict()[key], value, err_msg=key)


@pytest.mark.parametrize("cls, options", CASES, ids=CASE_IDS)
def test_state_dict_layout_and_defaults_are_torch(cls, options):
    """Against torch.optim's class built from the same arguments (so the defaults must match too),
    each side keeping its own state over 2 steps."""
    optimizer = cls(small_network(np.float64), **options)
    params = [torch.from_numpy(v.copy()) for v in optimizer.network.state_dict().values()]
    twin = dict(TORCH_OPTIMIZERS)[cls](params, **options)
    assert_agree(compare_optimizer_steps(optimizer, steps=2, twin=twin))
    ours, theirs = optimizer.state_dict(), scratch_state_dict(twin)
    assert {i: sorted(s) for i, s in ours["state"].items()} == {i: sorted(s) for i, s in theirs["state"].items()}
    ours_group, theirs_group = ours["param_groups"][0], theirs["param_groups"][0]
    assert ours_group == {key: theirs_group[key] for key in ours_group}


def test_a_state_that_does_not_fit_is_refused_whole():
    network = small_network(np.float64)
    optimizer = Adam(network, lr=0.01)
    compare_optimizer_steps(optimizer, steps=1)
    state = optimizer.state_dict()
    state["state"][0]["exp_avg"] = state["state"][0]["exp_avg"].T
    state["state"][1]["exp_avg_sq"] = state["state"][1]["exp_avg_sq"].astype(np.float32)
    del state["state"][2]["step"]
    state["param_groups"][0].update(lr=0.5, decoupled_weight_decay=True)
    before = optimizer.state_dict()
    with pytest.raises(ValueError) as error:
        optimizer.load_state_dict(state)
    for problem in ["exp_avg is float64(7, 5)", "exp_avg_sq is float32", "state keys ['exp_avg', 'exp_avg_sq']",
                    "decoupled_weight_decay=True, but Adam has decoupled_weight_decay=False"]:
        assert problem in str(error.value)
    with pytest.raises(ValueError, match="the learning rate must be a positive number"):
        optimizer.load_state_dict({**before, "param_groups": [{**before["param_groups"][0], "lr": -1.0}]})
    assert optimizer.lr == 0.01
    np.testing.assert_array_equal(optimizer.state_dict()["state"][0]["exp_avg"], before["state"][0]["exp_avg"])


def test_step_leaves_the_gradients_alone():
    """Weight decay and Nesterov build new arrays: the layer's gradients stay what backward left."""
    network = small_network(np.float64)
    compare_optimizer_steps(SGD(network, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1), steps=1)
    grads = network.grad_dict()
    SGD(network, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1).step()
    for key, value in network.grad_dict().items():
        np.testing.assert_array_equal(value, grads[key], err_msg=key)


# Hyperparameters ---------------------------------------------------------------------------------

@pytest.mark.parametrize("make, message", [
    (lambda n: SGD(n, lr="0.1"), "SGD: the learning rate must be a positive number; got lr='0.1' (a str)"),
    (lambda n: SGD(n, lr=0), "SGD: the learning rate must be a positive number; got lr=0"),
    (lambda n: SGD(n, lr=float("inf")), "the learning rate must be a positive number; got lr=inf"),
    (lambda n: SGD(n, lr=0.1, momentum=-0.9), "SGD: momentum must be a number >= 0; got momentum=-0.9"),
    (lambda n: SGD(n, lr=0.1, dampening=2), "SGD: dampening must be a number in [0, 1]; got dampening=2"),
    (lambda n: SGD(n, lr=0.1, nesterov=True), "nesterov needs momentum > 0 and dampening 0"),
    (lambda n: SGD(n, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "nesterov needs momentum > 0"),
    (lambda n: Adam(n, betas=(0.9, 1.0)), "Adam: beta2 must be a number in [0, 1); got beta2=1.0"),
    (lambda n: Adam(n, betas=0.9), "betas must be a pair (beta1, beta2)"),
    (lambda n: AdamW(n, eps=0.0), "AdamW: eps must be a positive number; got eps=0.0"),
    (lambda n: Adam(n, amsgrad="yes"), "amsgrad must be True or False"),
    (lambda n: RMSprop(n, alpha=1.5), "RMSprop: alpha must be a number in [0, 1); got alpha=1.5"),
    (lambda n: RMSprop(n, weight_decay=-1), "RMSprop: weight_decay must be a number >= 0; got weight_decay=-1"),
])
def test_bad_hyperparameters_are_refused_clearly(make, message):
    with pytest.raises((TypeError, ValueError)) as error:
        make(small_network(np.float64))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_registry():
    network = small_network(np.float64)
    made = {name: make(network, lr=0.1) for name, make in OPTIMIZERS.items()}
    assert [type(opt).__name__ for opt in made.values()] == ["SGD", "SGD", "SGD", "Adam", "AdamW", "RMSprop"]
    assert (made["sgd"].momentum, made["momentum"].momentum, made["nesterov"].nesterov) == (0.0, 0.9, True)
    assert type(torch_optimizer(made["adamw"], torch_model(network))) is torch.optim.AdamW


# Gradients overwritten by every backward ---------------------------------------------------------

def test_backward_twice_overwrites_gradients():
    network = small_network(np.float64)
    (x, y), = batches(7, 3, np.float64, 1, 4)
    compare_repeated_backward(network, x, y, SoftmaxCrossEntropy()).assert_ok()


def test_accumulated_gradients_are_caught_and_zeroing_passes():
    weights = small_network(np.float64).layers
    network = Sequential(zoo.LinearAccumulatesGradients(weights[0].params["weight"], weights[0].params["bias"]),
                         Tanh(), weights[2])
    (x, y), = batches(7, 3, np.float64, 1, 4)
    caught = compare_repeated_backward(network, x, y, SoftmaxCrossEntropy())
    assert [d.name for d in caught.failures] == ["0.weight.grad", "0.bias.grad"]
    assert caught["0.weight.grad"].max_rel == pytest.approx(1.0)  # twice the gradient

    def zero_grad():
        for layer in network.layers:
            layer.grads = {}

    compare_repeated_backward(network, x, y, SoftmaxCrossEntropy(), zero_grad=zero_grad).assert_ok()

