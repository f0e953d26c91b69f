"""`python -m paratime.cli`: the `paratime` command."""

from . import main

main()
