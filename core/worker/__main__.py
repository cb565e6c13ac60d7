"""``python -m core.worker``: the worker's serve loop (see ``core.worker.serve``)."""

import sys

from core.worker.serve import main

sys.exit(main())
