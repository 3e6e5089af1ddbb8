"""`python -m bot` is the same as the `claymate` command."""

from bot.cli import main

main()
