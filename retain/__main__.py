"""`python -m retain`: the same entry point as the `retain` command."""

from retain.cli import main

main()
