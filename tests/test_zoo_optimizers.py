"""Every mistake in the optimizer zoo (tests/zoo_optimizers.py) is caught by
reference.optimizers.compare_optimizer_steps over several steps, at the step it first shows, and
named by the tensor that is wrong. Several pass the first step, or agree on the parameters and
differ only in the state: a one-step check of the parameters would pass them."""

import numpy as np
import pytest
import zoo_optimizers as zoo
from test_optimizers import DTYPES, small_network

from reference.optimizers import compare_optimizer_steps

# (mistake, its options, the first step that fails, tensors (by suffix) failing there, whether that
# first failing step's parameters still agree: only the state shows the mistake yet)
ZOO = [
    (zoo.AdamWithoutBiasCorrection, dict(lr=0.01), 1, {"update"}, False),
    (zoo.AdamEpsInsideSqrt, dict(lr=0.01), 1, {"update"}, False),
    (zoo.AdamStateResetEveryStep, dict(lr=0.01), 2, {"step", "exp_avg", "exp_avg_sq", "update"}, False),
    (zoo.AdamWCoupledDecay, dict(lr=0.01, weight_decay=0.1), 1, {"exp_avg", "exp_avg_sq", "update"}, False),
    (zoo.SGDMomentumOnScaledGradient, dict(lr=0.1, momentum=0.9), 1, {"momentum_buffer"}, True),
    (zoo.SGDWeightDecayAfterMomentum, dict(lr=0.1, momentum=0.9, weight_decay=0.1), 1, {"momentum_buffer"}, True),
    (zoo.SGDMomentumOutsideState, dict(lr=0.1, momentum=0.9), 1, {"momentum_buffer"}, True),
    (zoo.SGDDampensFirstStep, dict(lr=0.1, momentum=0.9, dampening=0.5), 1, {"momentum_buffer", "update"}, False),
    (zoo.RMSpropEpsInsideSqrt, dict(), 1, {"update"}, False),
]


def failing(comparison) -> set:
    """The failing tensors' kinds: "update", a state name, or "param"."""
    return {d.name.split(".", 2)[2] if d.name.count(".") > 1 else "param" for d in comparison.failures}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mistake, options, first_failure, named, params_agree", ZOO,
                         ids=[entry[0].__name__ for entry in ZOO])
def test_zoo_mistake_is_caught_and_named(mistake, options, first_failure, named, params_agree, dtype):
    trajectory = compare_optimizer_steps(mistake(small_network(dtype), **options), steps=4)
    assert [c.ok for c in trajectory[:first_failure]] == [True] * (first_failure - 1) + [False]
    assert named <= failing(trajectory[first_failure - 1]), trajectory[first_failure - 1].failure_message()
    assert ("param" not in failing(trajectory[first_failure - 1])) == params_agree


def test_state_kept_outside_the_state_dict_is_named():
    trajectory = compare_optimizer_steps(zoo.SGDMomentumOutsideState(small_network(np.float64), lr=0.1, momentum=0.9))
    assert trajectory[0]["0.weight.momentum_buffer"].problem == "only the torch optimizer keeps this state"


def test_state_reset_passes_the_first_step():
    """The point of checking several steps: a one-step check (all the checker did before) passes it."""
    trajectory = compare_optimizer_steps(zoo.AdamStateResetEveryStep(small_network(np.float64), lr=0.01), steps=2)
    assert trajectory[0].ok and not trajectory[1].ok


def test_weight_decay_after_momentum_moves_the_parameters_from_the_second_step():
    trajectory = compare_optimizer_steps(
        zoo.SGDWeightDecayAfterMomentum(small_network(np.float64), lr=0.1, momentum=0.9, weight_decay=0.1), steps=2)
    assert "param" not in failing(trajectory[0]) and "param" in failing(trajectory[1])


def test_momentum_on_scaled_gradient_shows_in_the_parameters_only_under_a_schedule():
    """At a constant learning rate the parameters agree with torch for good (only the buffer shows
    the mistake); once the learning rate changes, they part."""
    def run(lrs):
        return compare_optimizer_steps(zoo.SGDMomentumOnScaledGradient(small_network(np.float64), lr=0.1, momentum=0.9),
                                       steps=4, lrs=lrs)

    assert all("param" not in failing(c) for c in run([0.1] * 4))
    assert "param" in failing(run([0.1, 0.1, 0.05, 0.05])[2])
