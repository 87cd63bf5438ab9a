"""`python -m aigw.cli`: the same as the `aigw` console script."""

import sys

from aigw.cli import main

sys.exit(main())
