"""``python -m tripost``: the ``tripost`` command."""

import sys

from tripost.cli import main

if __name__ == "__main__":
    sys.exit(main())
