"""`python -m guestlist …` is the `guestlist` command."""

import sys

from guestlist.cli import main

sys.exit(main())
