"""reference.gradcheck.check_update_rule and `compare.py check update-rule`: CS231n's optim.py
(tests/implementations/cs231n_optim.py) agrees with torch.optim step by step; its usual mistakes
(tests/implementations/cs231n_optim_mistakes.py) are caught at the step they first show and named; a
class-style optimizer is found and checked; what cannot run exits 2 in one line naming the flag."""

from pathlib import Path

import pytest
from implementations import cs231n_optim as optim
from implementations import cs231n_optim_mistakes as mistakes

from reference.cli import main as cli
from reference.gradcheck import check_update_rule

HERE = Path(__file__).parent / "implementations"
RULES, MISTAKES = HERE / "cs231n_optim.py", HERE / "cs231n_optim_mistakes.py"


@pytest.mark.parametrize("rule, twin", [(optim.sgd, "SGD"), (optim.sgd_momentum, "SGD"), (optim.rmsprop, "RMSprop"),
                                        (optim.adam, "Adam")])
def test_cs231n_rules_agree_with_their_twins_at_every_step(rule, twin):
    report = check_update_rule(rule)  # the twin from the rule's name; hyperparameters from its config
    assert report.ok and report.parts[0].step == 5, report.table()
    assert f"5 steps against torch.optim.{twin}" in report.parts[0].description
    assert "CS231n's optim.py" in report.conventions["summary"]


def test_defaults_are_read_from_the_config_and_flags_win():
    assert "adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08)" in check_update_rule(optim.adam).parts[0].description
    report = check_update_rule(optim.rmsprop, lr=0.5, alpha=0.9, eps=1e-6, steps=3)
    assert report.ok and "rmsprop(lr=0.5, alpha=0.9, eps=1e-06), 3 steps" in report.parts[0].description


@pytest.mark.parametrize("rule, twin, step, signature", [
    (mistakes.adam_without_bias_correction, "adam", 1, "Adam without bias correction"),
    (mistakes.adam_eps_inside_sqrt, "adam", 1, "epsilon inside the square root"),
    (mistakes.rmsprop_cache_not_returned, "rmsprop", 2, "state reset every step"),  # state lost: step 1 is right
    (mistakes.sgd_momentum_velocity_sign_flipped, "momentum", 1, "gradient ascent"),
])
def test_mistakes_are_caught_at_their_step_and_named(rule, twin, step, signature):
    report = check_update_rule(rule, twin)
    part = report.first_failure
    assert part is not None and part.step == step and part.signatures == [signature], report.table()
    assert f"first disagrees at step {step}" in report.table()


@pytest.mark.parametrize("cls, how", [(mistakes.Adam, "step(grads)"),
                                      (mistakes.Momentum, "update(params, grads) with dicts")])
def test_a_class_is_found_and_checked(cls, how):
    report = check_update_rule(cls, "adam" if cls is mistakes.Adam else "momentum", lr=0.01)
    assert report.ok, report.table()
    assert report.conventions["update"] == how


def test_the_command_line_agrees_and_disagrees(capsys):
    assert cli.main(["check", "update-rule", f"{RULES}:adam"]) == 0
    assert "Every step agrees with torch.optim.Adam (5 checked)." in capsys.readouterr().out
    assert cli.main(["check", "update-rule", f"{MISTAKES}:rmsprop_cache_not_returned", "--twin", "rmsprop",
                         "--optimizer-steps", "3"]) == 1
    out = capsys.readouterr().out
    assert "first disagrees at step 2 (step 1 agrees)" in out and "Looks like: state reset every step" in out


@pytest.mark.parametrize("argv, flag", [
    ([f"{RULES}:nothing"], "has no function or class nothing"),
    ([f"{MISTAKES}:adam_eps_inside_sqrt"], "give --twin"),
    ([f"{RULES}:sgd", "--betas", "0.9", "0.99"], "--betas does not apply to --twin sgd"),
    ([f"{RULES}:sgd", "--batch-size", "3"], "unrecognized arguments: --batch-size"),
    ([f"{RULES}:sgd", "--twin", "linear"], "argument --twin: invalid choice: 'linear'"),
    ([f"{HERE / 'micrograd.py'}:Value", "--twin", "sgd"], "the update rule Value"),  # no convention of an optimizer
])
def test_what_cannot_run_exits_2_in_one_line_naming_the_flag(argv, flag, capsys):
    assert cli.main(["check", "update-rule", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err, err
