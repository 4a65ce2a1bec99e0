"""``python -m aionova`` runs the console command."""

from aionova.cmd.console import main

main()
