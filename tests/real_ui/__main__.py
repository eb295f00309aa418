"""``python -m tests.real_ui``: run the real-UI check (see README.md)."""

import sys

from tests.real_ui.run import main

sys.exit(main())
