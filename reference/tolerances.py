"""Every tolerance the comparisons use, each with the reason it is what it is.

A tolerance reads: |scratch - torch| <= rtol * |torch| + atol * max|torch| for every element
(see comparison.py for why atol is relative to the tensor's scale). The numbers below were
measured on this project's own comparisons: 784-input networks with 1 to 3 hidden layers,
sigmoid, ReLU and tanh, both initialisations, cross-entropy and squared error, batch 32,
3 seeds, NumPy/OpenBLAS against torch 2.14.1 on the CPU. Each bound sits about 10x above the
worst measurement, so that a change of BLAS or CPU does not break them while a real mistake,
which moves results by 1e-3 or more, is still caught by orders of magnitude.

One regime lies outside these bounds, and the tests stay out of it: a sigmoid output saturated
past 1 - 1e-5 (the squared error on a 784-512-256-128-10 ReLU network with the paper's
initialisation, logits ~1e4). Its derivative s(1 - s) is computed from s, which is rounded to
an ulp of 1, so 1 - s carries a relative error of ulp / (1 - s) on both sides: measured 6.8e-12
of the scale in float64 and 1.7e-3 in float32. Neither side is wrong; the quantity is
ill-conditioned.

A second regime, for max-pooling: a window whose largest entries tie to within rounding routes
its whole gradient to whichever entry is larger on each side. After a tanh saturated in float32
(the paper's [-1, 1] initialisation on a CNN, pre-activations ~8) np.tanh and torch.tanh differ by
one ulp (0.99999976 against 0.9999998), and measured 2 of 25,088 input-gradient entries of a
2x2 max-pool (1x28x28-conv4k5p2-pool2-..., batch 8) went to different elements (0.075 against 0).
Exact ties (the zeros after a ReLU) are not this regime: both sides pick the first maximum.
"""

import contextlib
from contextvars import ContextVar

import numpy as np

from reference.comparison import Tolerance

_GIVEN: ContextVar[Tolerance | None] = ContextVar("given_tolerance", default=None)

FLOAT64 = Tolerance(
    rtol=1e-12, atol=1e-12,
    why="float64: the two sides sum the same products in different orders (OpenBLAS vs torch's BLAS, "
        "NumPy's exp vs torch's). Worst measured: 1.0e-13 of the tensor's scale (forward outputs of a "
        "784-512-256-128-10 tanh network, paper init, whose pre-activations cancel from sums of 100s of "
        "terms of size 1), 7.6e-16 for parameters after one SGD step.",
)

FLOAT32 = Tolerance(
    rtol=1.3e-6, atol=5e-4,
    why="float32: rtol is torch.testing's default. atol (of the tensor's scale) sits 10x over the worst "
        "measured, 4.7e-5 (the same deep tanh network: a float32 sum of 256 unit-sized terms is off by "
        "~1e-5, which tanh passes on at slope ~1). A fixed atol of 1e-5 fails on logits of size 100.",
)

TRAJECTORY_FLOAT64_HIGH_LR = Tolerance(
    rtol=0.0, atol=1e-7,
    why="float64 parameters after 100 SGD steps at lr 1.0 on 784-128-10 sigmoid (paper init, random "
        "labels): rounding differences are amplified about 10x every 10 steps; measured 2.9e-9 of the "
        "scale at step 100 (7.6e-16 at lr 0.1). The bound is 30x above that.",
)


FINITE_DIFFERENCES = Tolerance(
    rtol=1e-8, atol=1e-8,
    why="analytic float64 gradients against scipy.differentiate's order-8 central differences on small "
        "networks (5 to 7 units a layer, batch 4): measured agreement 2.5e-12 to 3.3e-10 of the scale "
        "(worst: ReLU with the squared error); 30x above that. A real backprop mistake is off by 1e-2 or more.",
)


# A bias followed by batch norm has a gradient of exactly 0: batch norm subtracts the batch mean, so
# shifting every pre-activation by the bias changes nothing, and dL/db = sum_i dL/dz_i cancels. Both
# sides then return rounding noise, and comparing noise with noise against its own scale is
# meaningless (measured: torch 1e-17 where scratch gives 1e-16). Instead each side must be 0 to
# rounding: |dL/db| <= CANCELLED_BY_BATCH_NORM * eps(dtype) * sum_i |dL/dz_i|. Measured worst, over
# 784-32-10, 784-48-24-10 and 10-7-7-4 networks, three activations, both inits, 3 seeds, batch 32:
# 4.5 (scratch, float64), 1.8 (torch, float64), 3.0 and 1.7 in float32; 50 is 10x above. A backward
# that ignores the mean's dependence on x (tests/zoo_regularization.py) is 8e13 times over it in
# float64 and 1.6e5 times in float32.
CANCELLED_BY_BATCH_NORM = 50.0


def for_dtype(dtype) -> Tolerance:
    """The tolerance for one forward/backward pass or one SGD step in this dtype (or the caller's, inside given())."""
    try:
        measured = {np.dtype(np.float64): FLOAT64, np.dtype(np.float32): FLOAT32}[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"comparisons are made in float32 or float64; got {dtype}") from None
    return _GIVEN.get() or measured


@contextlib.contextmanager
def given(rtol: float, atol: float):
    """Inside, for_dtype is the caller's Tolerance(rtol, atol) whatever the dtype: a test suite's own
    bound on the comparisons with torch (reference.asserts' rtol=, atol=). Finite differences keep
    theirs, which bound the difference method's own error, not the code's."""
    for name, value in (("rtol", rtol), ("atol", atol)):
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    token = _GIVEN.set(Tolerance(rtol, atol, why="given by the caller (rtol=, atol=)"))
    try:
        yield
    finally:
        _GIVEN.reset(token)


TRAINING_RUN_FLOAT64 = Tolerance(
    rtol=0.0, atol=1e-10,
    why="float64 parameters after whole epochs of free-running training on real MNIST (784-128-10 sigmoid, "
        "paper init, batch 32): measured 3.4e-15 of the scale after 1 epoch at lr 0.5, 9.3e-14 after 5 "
        "epochs and 1.3e-13 after the paper's 75-epoch run at lr 1.0; on real data the rounding "
        "differences random-walk rather than compound. 1e-10 is 1000x above that and still 7 orders of "
        "magnitude below what a wrong step produces.",
)

TRAINING_RUN_FLOAT32 = Tolerance(
    rtol=0.0, atol=1e-3,
    why="float32 parameters after whole epochs of free-running training on real MNIST (784-128-10 "
        "sigmoid, paper init): measured 5.4e-6 of the scale after 5 epochs at lr 0.5, 2.0e-5 after 5 and "
        "2.8e-5 after 75 epochs at lr 1.0. 1e-3 is 35x above that. Runs that amplify rounding (ReLU with "
        "the paper's initialisation: 1e-1 within an epoch) go past it, and the report's step check then "
        "tells amplified rounding from a wrong step.",
)


def training_run(dtype) -> Tolerance:
    """The tolerance on the parameters of a whole training run (compare.py's verdict)."""
    return TRAINING_RUN_FLOAT64 if np.dtype(dtype) == np.float64 else TRAINING_RUN_FLOAT32


def optimizer_update(base: Tolerance, dtype, param_scale: float, update_scale: float) -> Tolerance:
    """The tolerance on what one optimizer step changed a parameter by (p_after - p_before).

    Each side rounds p_after to the dtype, so the update is known only to about one ulp of the
    parameter on each side: 2 * eps(dtype) * max|p|, which can be a large fraction of a small
    update (lr 1e-3 on unit-sized float32 weights: 2.4e-4 of the update). atol is base's (the
    dtype's tolerance, for_dtype), or that rounding bound relative to the update's scale where it
    is larger; rtol is base's.
    Measured (reference.optimizers.compare_optimizer_steps: the 21 optimizer settings of
    tests/test_optimizers.py on 7-5-3 networks, 8 steps, 3 seeds): the updates came to 0.069 of
    this bound in float64 and 0.11 in float32 (Adam at lr 1e-3, where the parameters' rounding,
    9.8e-14 and 5.7e-5 of the update's scale, is all there is); parameters and state to 2.8e-4 of
    FLOAT64 and 1.4e-3 of FLOAT32. So FLOAT64 and FLOAT32 hold for every optimizer, Adam's division
    included: no bound of its own is needed.
    """
    rounding = 2 * np.finfo(dtype).eps * param_scale / update_scale if update_scale else np.inf
    if rounding <= base.atol:
        return base
    return Tolerance(rtol=base.rtol, atol=rounding,
                     why=f"{base.why} Widened to the parameter's own rounding, 2 eps max|p| = {rounding:.1e} of the "
                         f"update's scale: the update is only known to that.")


if __name__ == "__main__":  # python -m reference.tolerances: every tolerance, its values and its reason
    import textwrap

    for name, value in list(globals().items()):
        if isinstance(value, Tolerance):
            print(f"{name}: rtol {value.rtol:g}, atol {value.atol:g} of the tensor's scale")
            print(textwrap.fill(value.why, 100, initial_indent="    ", subsequent_indent="    ") + "\n")
