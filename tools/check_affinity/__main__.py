"""`python -m tools.check_affinity`: is the stack's URL sticky, and what happens during a change."""

import sys

from tools.check_affinity.command import main

sys.exit(main())
