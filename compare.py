"""compare.py: train, check and grade (python compare.py --help); the commands are reference.cli."""

import sys

from reference.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
