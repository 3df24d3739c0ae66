"""Signatures of optimizer mistakes: what a step with each mistake would leave.

Each is predicted from a Case of kind "optimizer": the parameters p before the checked step, the
gradients g both sides were given, the torch twin's state before that step (the steps before it
agreed, so it is the checked optimizer's state too), the twin's hyperparameters and class. A rule
gives, per parameter, p after the step and the state the mistaken step leaves; the prediction
covers "k", "k.update" and "k.<state>" for every parameter key k. The plain-SGD mistakes are
predicted at step 1 only, where there is no state; Adam's, RMSprop's and momentum's at any step.
"""

import numpy as np

from reference.gradcheck.signatures import Case, Signature

_OPTIMIZER = ("optimizer",)


def _predicted(rule):
    """predict(case) from rule(p, g, state, case) -> (p after, {state name: value}), or None where the
    mistake does not apply to this optimizer (then no prediction at all). Computed in float64."""
    def predict(case: Case) -> dict:
        values = {}
        for key, before in case.params.items():
            state = {name.removeprefix(f"{key}."): value for name, value in case.state.items()
                     if name.startswith(f"{key}.")}
            result = rule(before.astype(np.float64), case.grads[key].astype(np.float64), state, case)
            if result is None:
                return {}
            after, new_state = result
            values[key] = after = after.astype(before.dtype)
            values[f"{key}.update"] = after.astype(np.float64) - before
            values.update({f"{key}.{name}": value for name, value in new_state.items()})
        return values
    return predict


def _sgd_stepped(multiple):
    """Plain SGD's first step, p - multiple(lr) g."""
    def rule(p, g, state, case):
        return None if case.step != 1 or case.twin != "SGD" else (p - multiple(case.hyper["lr"]) * g, {})
    return rule


def _adam(*, corrected=True, eps_inside=False, reset=False, coupled=False):
    """Adam's or AdamW's step as torch takes it (see scratch_nn.optim.adam), but with m and v not
    bias-corrected, epsilon inside the square root, the state started afresh, or AdamW's decay
    added to the gradient (Adam's L2) instead of shrinking p."""
    def rule(p, g, state, case):
        h = case.hyper
        if case.twin not in ("Adam", "AdamW") or h["amsgrad"] or (coupled and not (case.twin == "AdamW"
                                                                                   and h["weight_decay"])):
            return None
        (beta1, beta2), lr, eps, decay = h["betas"], h["lr"], h["eps"], h["weight_decay"]
        state = {} if reset else state
        t = state.get("step", 0) + 1
        if case.twin == "AdamW" and not coupled:
            p = p * (1 - lr * decay)
        elif decay:
            g = g + decay * p
        m = beta1 * state.get("exp_avg", 0.0) + (1 - beta1) * g
        v = beta2 * state.get("exp_avg_sq", 0.0) + (1 - beta2) * g * g
        c1, c2 = (1 - beta1 ** t, 1 - beta2 ** t) if corrected else (1.0, 1.0)
        denominator = np.sqrt(v / c2 + eps) if eps_inside else np.sqrt(v / c2) + eps
        return p - lr / c1 * m / denominator, {"step": float(t), "exp_avg": m, "exp_avg_sq": v}
    return rule


def _rmsprop(*, eps_inside=False, reset=False):
    """RMSprop (not centered, no momentum) with sqrt(v + eps), or with v started afresh every step."""
    def rule(p, g, state, case):
        h = case.hyper
        if case.twin != "RMSprop" or h["centered"] or h["momentum"]:
            return None
        g = g + h["weight_decay"] * p
        v = h["alpha"] * (0.0 if reset else state.get("square_avg", 0.0)) + (1 - h["alpha"]) * g * g
        denominator = np.sqrt(v + h["eps"]) if eps_inside else np.sqrt(v) + h["eps"]
        return p - h["lr"] * g / denominator, {"step": float(state.get("step", 0) + 1), "square_avg": v}
    return rule


def _momentum_applies(case, *settings) -> bool:
    return case.twin == "SGD" and bool(case.hyper["momentum"]) and all(case.hyper[s] for s in settings)


def _decay_after_momentum(p, g, state, case):
    """b from g alone (torch: from g + weight_decay p); p <- p - lr (b + weight_decay p)."""
    h = case.hyper
    if not _momentum_applies(case, "weight_decay") or h["nesterov"]:
        return None
    buffer = state.get("momentum_buffer")
    buffer = g if buffer is None else h["momentum"] * buffer + (1 - h["dampening"]) * g
    return p - h["lr"] * (buffer + h["weight_decay"] * p), {"momentum_buffer": buffer}


def _dampened_first_step(p, g, state, case):
    """The first step with b started at zero: b = (1 - dampening) g, where torch takes b = g."""
    h = case.hyper
    if not _momentum_applies(case, "dampening") or state:
        return None
    buffer = (1 - h["dampening"]) * (g + h["weight_decay"] * p)
    return p - h["lr"] * buffer, {"momentum_buffer": buffer}


def _buffer_times_lr(case: Case) -> dict:
    """The momentum buffer as lr times torch's: b <- momentum b + lr g, p <- p - b."""
    if not _momentum_applies(case) or case.hyper["lr"] == 1:
        return {}
    return {key: case.hyper["lr"] * case.reference[key] for key in case.ending(".momentum_buffer")}


def _state_missing(case: Case, key: str) -> bool:
    return key in case.reference and key not in case.scratch


OPTIMIZER_SIGNATURES = [
    Signature("gradient ascent",
              "The step adds the gradient (theta += lr g): it climbs the loss instead of descending it.",
              _OPTIMIZER, predict=_predicted(_sgd_stepped(lambda lr: -lr))),
    Signature("learning rate applied twice",
              "The step is theta -= lr^2 g: the learning rate is applied twice.",
              _OPTIMIZER, predict=_predicted(_sgd_stepped(lambda lr: lr * lr))),
    Signature("learning rate missing",
              "The step is theta -= g: the learning rate is not applied.",
              _OPTIMIZER, predict=_predicted(_sgd_stepped(lambda lr: 1.0))),
    Signature("not updated",
              "The step leaves this parameter unchanged: the optimizer skips it.",
              _OPTIMIZER, predict=_predicted(_sgd_stepped(lambda lr: 0.0))),
    Signature("Adam without bias correction",
              "m and v are not bias-corrected: p -= lr m / (sqrt(v) + eps). Both start at zero, so divide them by "
              "1 - beta1^t and 1 - beta2^t (t the step, from 1): lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) "
              "+ eps).",
              _OPTIMIZER, predict=_predicted(_adam(corrected=False))),
    Signature("epsilon inside the square root",
              "sqrt(v + eps) instead of sqrt(v) + eps: epsilon belongs outside the root (after the bias correction, "
              "for Adam), as torch adds it. Only gradients with v ~ eps show it.",
              _OPTIMIZER, predict=lambda case: {**_predicted(_adam(eps_inside=True))(case),
                                                **_predicted(_rmsprop(eps_inside=True))(case)}),
    Signature("state reset every step",
              "Every step is a first step: the moments (RMSprop's squared average) and the step count start afresh "
              "each time (kept in a local, cleared, or not returned in an update rule's config). Keep them in the "
              "optimizer's state from one step to the next.",
              _OPTIMIZER, predict=lambda case: {**_predicted(_adam(reset=True))(case),
                                                **_predicted(_rmsprop(reset=True))(case)}),
    Signature("AdamW decay coupled",
              "AdamW's weight decay added to the gradient (Adam's L2 penalty), so it goes through m and v: AdamW "
              "shrinks the parameters instead, p <- p (1 - lr weight_decay), before the Adam step on g alone.",
              _OPTIMIZER, predict=_predicted(_adam(coupled=True))),
    Signature("momentum on the lr-scaled gradient",
              "The momentum buffer holds lr times torch's: b <- momentum b + lr g, p <- p - b. The steps agree at a "
              "constant lr, but a schedule, or a checkpoint moved to torch, goes wrong. Keep b <- momentum b + g "
              "and step p <- p - lr b.",
              _OPTIMIZER, predict=_buffer_times_lr),
    Signature("weight decay after the momentum buffer",
              "The decay is added to the step after the buffer (p -= lr (b + wd p)), so the buffer never holds it: "
              "add wd p to the gradient first, g <- g + wd p, then b <- momentum b + (1 - dampening) g.",
              _OPTIMIZER, predict=_predicted(_decay_after_momentum)),
    Signature("dampening on the first step",
              "The buffer starts at zero, so the first step is dampened: torch starts it at b = g and dampens "
              "from the second step on.",
              _OPTIMIZER, predict=_predicted(_dampened_first_step)),
    Signature("state missing from state_dict",
              "torch keeps this state and the checked optimizer's state_dict() has none: state kept elsewhere (an "
              "attribute of its own) is lost when a checkpoint is saved and loaded. Keep it in self.state[index] "
              "under torch's name.",
              _OPTIMIZER, holds=_state_missing),
]
