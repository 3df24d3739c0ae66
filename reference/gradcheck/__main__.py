"""python -m reference.gradcheck: the gradient checker's command line (see cli.py)."""

import sys

from reference.cli.check import main

sys.exit(main())
