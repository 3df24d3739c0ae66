"""reference.gradcheck's optimizer part (several steps against the torch.optim twin) and its repeated
backward (gradients overwritten, not accumulated): every mistake of the optimizer zoo
(tests/zoo_optimizers.py) caught at the step it first shows and named; the real optimizers, users'
own optimizers with a named twin, and correct layers without false alarms; clear errors."""

import numpy as np
import pytest
import torch
import zoo_optimizers as zoo
from test_optimizers import CASE_IDS, CASES, small_network
from test_zoo_optimizers import ZOO

import scratch_nn
from reference.gradcheck import check
from scratch_nn import SGD, Adam, Linear, build_network

SIGNATURES = {
    zoo.AdamWithoutBiasCorrection: "Adam without bias correction",
    zoo.AdamEpsInsideSqrt: "epsilon inside the square root",
    zoo.AdamStateResetEveryStep: "state reset every step",
    zoo.AdamWCoupledDecay: "AdamW decay coupled",
    zoo.SGDMomentumOnScaledGradient: "momentum on the lr-scaled gradient",
    zoo.SGDWeightDecayAfterMomentum: "weight decay after the momentum buffer",
    zoo.SGDMomentumOutsideState: "state missing from state_dict",
    zoo.SGDDampensFirstStep: "dampening on the first step",
    zoo.RMSpropEpsInsideSqrt: "epsilon inside the square root",
}


def checked(optimizer, dtype=np.float64, lr=0.1, **options):
    """The report on a 7-5-3 tanh network (non-square layers) with its loss and this optimizer."""
    return check(small_network(dtype), loss="cross_entropy", optimizer=optimizer, lr=lr, **options)


def built(cls, **hyperparameters):
    """A factory optimizer(network, lr), as the checker calls it, for a class with more settings."""
    return lambda network, lr: cls(network, lr=lr, **hyperparameters)


# The optimizer zoo -------------------------------------------------------------------------------

@pytest.mark.parametrize("mistake, options, first_step", [entry[:3] for entry in ZOO], ids=[e[0].__name__ for e in ZOO])
def test_zoo_mistake_is_caught_at_its_step_and_named(mistake, options, first_step, dtype):
    options = dict(options)
    report = checked(built(mistake, **{k: v for k, v in options.items() if k != "lr"}), dtype, options.get("lr", 0.01))
    part = report.first_failure
    assert report.failures == [part] and part.kind == "optimizer", report.table()
    assert part.step == first_step and SIGNATURES[mistake] in part.signatures, report.table()
    assert f"first disagrees at step {first_step}" in report.table()


def test_state_reset_passes_the_first_step_and_fails_the_second():
    """Why several steps: one step (all the checker did before) passes it; the report names step 2."""
    reset = built(zoo.AdamStateResetEveryStep)
    assert checked(reset, optimizer_steps=1).ok
    report = checked(reset)
    assert "first disagrees at step 2 (step 1 agrees)" in report.table()
    assert report.first_failure.torch.context == "step 2 of 5 against torch.optim.Adam"


class ParametersOnly:
    """A scratch_nn optimizer behind an object of the user's own: the checker sees only step(), so it
    compares the parameters and their updates, not the state."""

    def __init__(self, inner):
        self.inner = inner

    def step(self):
        self.inner.step()


# What the parameters alone show of each mistake: the first step they disagree at (None: never, at
# a constant learning rate) and the signature named there (None: the state it would need is gone).
PARAMETERS_ONLY = {
    zoo.AdamWithoutBiasCorrection: (1, "Adam without bias correction"),
    zoo.AdamEpsInsideSqrt: (1, "epsilon inside the square root"),
    zoo.AdamStateResetEveryStep: (2, "state reset every step"),
    zoo.AdamWCoupledDecay: (1, "AdamW decay coupled"),
    zoo.SGDMomentumOnScaledGradient: (None, None),
    zoo.SGDWeightDecayAfterMomentum: (2, None),
    zoo.SGDMomentumOutsideState: (None, None),
    zoo.SGDDampensFirstStep: (1, "dampening on the first step"),
    zoo.RMSpropEpsInsideSqrt: (1, "epsilon inside the square root"),
}


@pytest.mark.parametrize("mistake, options", [entry[:2] for entry in ZOO], ids=[e[0].__name__ for e in ZOO])
def test_a_users_optimizer_is_judged_by_its_parameters(mistake, options):
    """Why a scratch_nn optimizer's state is compared too: two mistakes never show in the parameters
    at a constant learning rate, and one only from step 2, where it can no longer be named."""
    settings = {k: v for k, v in options.items() if k != "lr"}
    twin = mistake.__mro__[1].__name__.lower()  # the scratch_nn class it gets wrong: its name in OPTIMIZERS
    report = checked(lambda network, lr: ParametersOnly(mistake(network, lr=lr, **settings)), lr=options.get("lr",
                                                                                                             0.01),
                     optimizer_twin=twin, optimizer_options=settings)
    step, signature = PARAMETERS_ONLY[mistake]
    part = report.parts[-1]
    assert (part.ok, part.step) == (step is None, step or 5), report.table()
    assert part.signatures == ([signature] if signature else [])
    assert all(d.name.count(".") == 1 or d.name.endswith(".update") for d in part.torch.diffs)  # no state


def test_the_zoo_is_complete():
    """Every mistake in tests/zoo_optimizers.py is checked here (the layer one below)."""
    mistakes = {v for v in vars(zoo).values() if isinstance(v, type) and v.__module__ == zoo.__name__}
    assert mistakes == set(SIGNATURES) | {zoo.LinearAccumulatesGradients}


@pytest.mark.parametrize("cls, options", CASES, ids=CASE_IDS)
def test_the_real_optimizers_pass(cls, options, dtype):
    options = dict(options)
    report = checked(built(cls, **{k: v for k, v in options.items() if k != "lr"}), dtype, options.get("lr", 0.01))
    assert report.ok, report.table()
    assert report.parts[-1].step == 5 and "5 steps against torch.optim" in report.parts[-1].description


@pytest.mark.parametrize("name", list(scratch_nn.OPTIMIZERS))
def test_an_optimizer_by_name_with_its_options(name):
    options = {"adam": dict(betas=(0.8, 0.99)), "adamw": dict(weight_decay=0.1), "rmsprop": dict(centered=True),
               "sgd": dict(momentum=0.5)}.get(name, {})
    report = checked(name, lr=0.01, optimizer_options=options, optimizer_steps=3)
    assert report.ok and report.parts[-1].step == 3, report.table()


# Users' own optimizers ---------------------------------------------------------------------------

class HandMomentum:
    """SGD with momentum 0.9 written from scratch: velocities of its own, v <- 0.9 v + g, p -= lr v."""

    def __init__(self, network, lr):
        self.network, self.lr, self.velocity = network, lr, {}

    def step(self):
        for key, layer, name in self.network.named_parameters():
            v = self.velocity[key] = 0.9 * self.velocity.get(key, 0) + layer.grads[name]
            layer.params[name] -= self.lr * v


class HandAdamForgetful:
    """Adam written from scratch with its moments in locals: every step is a first step."""

    def __init__(self, network, lr):
        self.network, self.lr = network, lr

    def step(self):
        for _, layer, name in self.network.named_parameters():
            g = layer.grads[name]
            m, v = 0.1 * g, 0.001 * g * g
            layer.params[name] -= self.lr / 0.1 * m / (np.sqrt(v / 0.001) + 1e-8)


def test_a_users_optimizer_with_a_named_twin():
    assert checked(HandMomentum, optimizer_twin="momentum").ok
    assert checked(HandMomentum, optimizer_twin="sgd", optimizer_options={"momentum": 0.9}).ok
    assert checked(HandMomentum, optimizer_twin=lambda params, lr: torch.optim.SGD(params, lr, momentum=0.9)).ok
    report = checked(HandMomentum, optimizer_twin="sgd")  # the wrong twin: plain SGD
    assert report.parts[-1].step == 2 and not report.ok  # the first step has no momentum yet


def test_a_users_stateful_mistake_is_found_at_a_later_step_and_named():
    """Only parameters and updates are compared for a user's optimizer; the state still shows in them."""
    report = checked(HandAdamForgetful, lr=0.01, optimizer_twin="adam")
    part = report.first_failure
    assert (part.kind, part.step, part.signatures) == ("optimizer", 2, ["state reset every step"]), report.table()
    assert not any(".exp_avg" in name for name in part.failing)


def test_an_optimizer_that_raises_is_that_parts_failure_at_its_step():
    class Tired(HandMomentum):
        def step(self):
            self.steps = getattr(self, "steps", 0) + 1
            if self.steps == 3:
                raise FloatingPointError("too many steps")
            super().step()

    part = checked(Tired, optimizer_twin="momentum").first_failure
    assert (part.step, part.error) == (3, "the optimizer's step 3 raised FloatingPointError: too many steps")


def test_an_optimizer_whose_constructor_raises_is_that_parts_failure():
    class Unbuildable(HandMomentum):
        def __init__(self, network, lr):
            raise KeyError("params")

    part = checked(Unbuildable, optimizer_twin="momentum").first_failure
    assert (part.kind, part.error) == ("optimizer", "the optimizer's constructor raised KeyError: 'params'")


def test_an_optimizer_instance_is_checked_on_a_copy():
    network = small_network(np.float64)
    optimizer = Adam(network, lr=0.01)
    before = network.state_dict()
    report = check(network, loss="cross_entropy", optimizer=optimizer)
    assert report.ok and report.parts[-1].description.startswith("Adam(lr=0.01, ")
    for key, value in network.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    assert not optimizer.state  # stepped on a copy


@pytest.mark.parametrize("options, error, words", [
    (dict(optimizer="adagrad"), ValueError, "unknown optimizer 'adagrad'; choose from"),
    (dict(optimizer=HandMomentum), TypeError, "no torch.optim twin is known for HandMomentum.*optimizer_twin="),
    (dict(optimizer=HandMomentum, optimizer_twin="lbfgs"), ValueError, "unknown optimizer_twin 'lbfgs'"),
    (dict(optimizer=HandMomentum, optimizer_twin=lambda params, lr: None), TypeError, "must return a torch.optim"),
    (dict(optimizer=SGD, optimizer_options={"momentum": 0.9}), ValueError, "optimizer_options are the hyperparam"),
    (dict(optimizer="adam", optimizer_options={"betas": 0.9}), TypeError, "betas must be a pair"),
    (dict(optimizer=SGD(small_network(np.float64), lr=0.1)), ValueError, "steps another network"),
    (dict(optimizer_steps=0), ValueError, "optimizer_steps must be a positive integer"),
    (dict(zero_grad="yes"), TypeError, "zero_grad must be a function"),
])
def test_bad_usage_is_refused_clearly(options, error, words):
    with pytest.raises(error, match=words):
        check(small_network(np.float64), loss="cross_entropy", **options)


# Repeated backward: gradients overwritten, not accumulated ----------------------------------------

class HandAccumulating(Linear):
    """Documents accumulation, as torch does: backward adds to its gradient arrays in place; zero()
    resets them (the user's training loop calls it once per step)."""

    def backward(self, grad_output):
        old = self.grads
        grad_input = super().backward(grad_output)
        for name, value in old.items():
            value += self.grads[name]
            self.grads[name] = value
        return grad_input

    def zero(self):
        for value in self.grads.values():
            value[...] = 0


def with_layer(cls):
    network = build_network("7-5-3", "sigmoid")
    network.layers[2] = cls(network.layers[2].params["weight"], network.layers[2].params["bias"])
    return network


def test_gradients_accumulated_are_named():
    report = check(with_layer(zoo.LinearAccumulatesGradients), loss="cross_entropy")
    part = report.first_failure
    assert report.failures == [part] and part.index == 2, report.table()
    assert part.failing == ["2.weight.grad (2nd backward)", "2.bias.grad (2nd backward)"]
    assert part.signatures == ["gradients accumulated"]


def test_correct_layers_are_checked_twice_without_a_false_alarm(dtype):
    report = check(build_network("7-5-5-3", "relu", dtype=dtype), loss="cross_entropy")
    assert report.ok, report.table()
    assert {d.name for d in report.parts[2].torch.diffs} >= {"2.weight.grad (2nd backward)",
                                                             "2.bias.grad (2nd backward)"}


def test_documented_accumulation_is_checked_through_its_zeroing():
    network = with_layer(HandAccumulating)
    assert check(network, loss="cross_entropy").first_failure.signatures == ["gradients accumulated"]
    assert check(network, loss="cross_entropy", zero_grad=lambda layer: getattr(layer, "zero", lambda: None)()).ok
    broken = check(network, loss="cross_entropy", zero_grad=lambda layer: None)
    assert broken.first_failure.signatures == ["zero_grad does not zero"]
