"""storybot's performance benchmark: ``python -m bench`` (or ``./dev bench``); see bench/run.py."""

import sys

from .run import main

sys.exit(main())
