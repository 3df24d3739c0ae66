"""The command line's side of update rules of one's own (`compare.py check --update-rule FILE.py:NAME`):
the function or class loaded, its twin from --twin (or its name), and check_update_rule run with the
hyperparameter flags given."""

from reference.cli.check_own_code import load, refuse_options_not_for
from reference.gradcheck.update_rule import TWINS, check_update_rule

# The options that apply to an update rule's check; any other given is refused in one line.
APPLY = ("update_rule", "twin", "lr", "momentum", "betas", "eps", "alpha", "optimizer_steps", "seed", "json")


def add_update_rule_arguments(parser) -> None:
    group = parser.add_argument_group(
        "an optimizer of your own as update rules (--update-rule)",
        "CS231n's optim.py rule(w, dw, config) -> (next_w, config), or a class Cls(params, lr=...) with step(grads) "
        "or update(params, grads) (lists or dicts), found by experiment; stepped --optimizer-steps times beside its "
        "torch.optim twin (--twin " + "|".join(TWINS) + ", default: from NAME) on random float64 parameters with "
        "the same gradients; parameters and updates compared. Hyperparameters: --lr, --momentum, --betas, --eps, "
        "--alpha where given, else the rule's own defaults (its config or constructor), else torch's.")
    group.add_argument("--update-rule", metavar="FILE.py:NAME",
                       help="the update rule (a function) or optimizer class, e.g. optim.py:adam")


def check_update_rule_file(args, defaults: dict):
    """The report of --update-rule; defaults: every option's default, to refuse those given that do not apply."""
    refuse_options_not_for(args, defaults, APPLY, "--update-rule",
                           ", ".join("--" + key.replace("_", "-") for key in APPLY[1:]))
    if args.twin is not None and args.twin not in TWINS:
        raise ValueError(f"--twin {args.twin} is a layer; an --update-rule's twin is one of {list(TWINS)}")
    rule = load(args.update_rule, "--update-rule", callable, "function or class")
    return check_update_rule(rule, args.twin, lr=args.lr, steps=args.optimizer_steps, seed=args.seed,
                             momentum=args.momentum, betas=args.betas, eps=args.eps, alpha=args.alpha)
