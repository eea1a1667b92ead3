"""`python -m yakuba.cli`: the same commands as the `yakuba` script."""

from yakuba.cli.app import app

app()
