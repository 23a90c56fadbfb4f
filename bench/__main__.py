"""storybot's performance benchmark: ``python -m bench`` (or ``./dev bench``); see bench/run.py and bench/story.py."""

import sys

from . import story
from .run import main

if "--report-only" not in sys.argv:
    story.main()
sys.exit(main())
