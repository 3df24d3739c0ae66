"""Train the scratch NumPy network and its PyTorch twin side by side and report how they compare.

    python compare.py                          # train: MNIST, 784-128-10 sigmoid, 5 epochs
    python compare.py --preset paper-128-lr1   # one of the paper's experiments (--list-presets)
    python compare.py --preset adam-128        # Adam (--optimizer; --dropout, --batch-norm: train --help)
    python compare.py --dtype float64 --json run.json --plot run.png --save run.npz
    python compare.py --resume run.npz --json run.json   # go on from the saved epoch
    python compare.py check --help             # the gradient checker for your own layers
    python compare.py --implementation my_net.py:build --dtype float64   # your own network against torch
    python compare.py grade submissions/ --student-safe                  # grade a folder, part by part

With no command, or with train options only, compare.py runs `train`. The data root
(torchvision layout: <root>/MNIST/raw/...) comes from --data-root, else $SCRATCH_NN_DATA_ROOT,
else ./data.
"""

import sys

from reference.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
