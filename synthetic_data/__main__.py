"""``python -m synthetic_data``: see ``--help``."""

import sys

from synthetic_data.cli import main

sys.exit(main())
