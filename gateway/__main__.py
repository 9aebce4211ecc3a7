"""`python -m gateway` is the `stoa` command."""

import sys

from gateway.cli import main

sys.exit(main())
