"""``python -m streams.bench``."""

import sys

from streams.bench.main import main

sys.exit(main())
