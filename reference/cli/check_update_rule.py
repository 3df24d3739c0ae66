"""`compare.py check update-rule FILE.py:NAME`: an optimizer of your own as update rules, the function or
class loaded, its twin from --twin (or its name), and check_update_rule run with the hyperparameters given."""

from reference.adapters.keywords import UPDATE_RULE
from reference.choices import UPDATE_RULE_TWINS
from reference.cli.check_options import add_seed_and_json, add_steps_argument
from reference.cli.common import positive_float


def add_arguments(parser) -> None:
    parser.description = (
        "CS231n's optim.py rule(w, dw, config) -> (next_w, config), or a class Cls(params, lr=...) with step(grads) "
        "or update(params, grads) (lists or dicts), found by experiment; stepped --optimizer-steps times beside its "
        "torch.optim twin on random float64 parameters with the same gradients; parameters and updates compared. "
        "Hyperparameters: those given, else the rule's own defaults (its config or constructor), else torch's.")
    parser.add_argument("update_rule", metavar="FILE.py:NAME",
                        help="the update rule (a function) or optimizer class, e.g. optim.py:adam")
    parser.add_argument("--twin", choices=UPDATE_RULE_TWINS, help="its torch.optim twin (default: from NAME)")
    hyper = parser.add_argument_group("hyperparameters (default: the rule's own, else torch's)")
    hyper.add_argument("--lr", type=positive_float, help="learning rate")
    hyper.add_argument("--momentum", type=float, help="momentum factor")
    hyper.add_argument("--betas", type=float, nargs=2, metavar=("BETA1", "BETA2"), help="Adam's moment decays")
    hyper.add_argument("--eps", type=float, help="epsilon of the denominator")
    hyper.add_argument("--alpha", type=float, help="RMSprop's decay of the squared gradients")
    common = parser.add_argument_group("the check")
    add_steps_argument(common)
    add_seed_and_json(common)
    parser.set_defaults(check=check_update_rule_file, keyword_flags=UPDATE_RULE)


def check_update_rule_file(args):
    from reference.adapters.loader import load_object
    from reference.gradcheck.update_rule import check_update_rule

    rule = load_object(args.update_rule, "check update-rule", callable, "function or class")
    return check_update_rule(rule, args.twin, lr=args.lr, steps=args.optimizer_steps, seed=args.seed,
                             momentum=args.momentum, betas=args.betas, eps=args.eps, alpha=args.alpha)
