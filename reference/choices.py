"""The names and defaults the commands offer, known without importing torch.

A command's --help is built from these, so it answers without loading torch; the libraries that
use them import them from here (the checker's defaults), or assert at import that their own
tables name the same (the twins, which are torch classes).
"""

# The gradient checker's defaults (reference.gradcheck).
FD_SAMPLES = 20          # entries of each tensor checked by finite differences
OPTIMIZER_STEPS = 5      # consecutive optimizer steps checked: enough for state (momentum, moments) to matter
DEFAULT_SIZES = (6, 4)   # in and out features of a layer the check builds or feeds

# What a layer of one's own may compute: reference.twin.LAYERS_BY_TWIN_NAME's keys.
LAYER_TWINS = ("linear", "sigmoid", "relu", "tanh", "leakyrelu", "conv2d", "maxpool2d", "flatten", "unflatten",
               "softmax", "dropout", "batchnorm1d")
# The torch.optim twins of an update rule of one's own: reference.gradcheck.update_rule.TWINS' keys.
UPDATE_RULE_TWINS = ("sgd", "momentum", "adam", "rmsprop")
# A functional pair's settings dict (CS231n's conv, max-pool, batch norm, dropout), as check()'s keywords.
PAIR_SETTINGS = ("in_shape", "kernel", "stride", "pad", "pool", "p")
# How a whole network's gradient method is called: method(x, y); forward(X), method(y); forward(X), method().
GRADIENT_CALLS = ("data", "targets", "none")

# A scalar autograd engine's MLP: small, since every scalar of it is a Python object.
ENGINE_SIZES = (3, 4, 4, 1)

# What the grader grades on (reference.grading): networks of one small hidden layer, so that a check
# takes a fraction of a second; the lr of the update's check and the training run (see DEAD_FRACTION).
GRADE_SIZES = (784, 16, 10)
GRADE_LR = 0.2
GRADE_ACTIVATIONS = ("sigmoid", "relu")
