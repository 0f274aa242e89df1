"""`python -m tools.preview`: what a stack declares, offline."""

import sys

from tools.preview.command import main

sys.exit(main())
