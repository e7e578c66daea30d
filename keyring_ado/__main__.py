"""``python -m keyring_ado``: the ``keyring-ado`` command."""

import sys

from .cli import main

sys.exit(main())
