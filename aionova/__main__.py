"""``python -m aionova`` runs the console command."""

from aionova.cmd.main import main

main()
