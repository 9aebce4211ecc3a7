"""`python -m gateway` is the `stoa` command."""

from gateway.cli import run

run()
