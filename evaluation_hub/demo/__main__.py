"""``python -m evaluation_hub.demo``: the same options as ``evaluation-hub demo``."""

import sys

from evaluation_hub.demo.cli import main

sys.exit(main())
