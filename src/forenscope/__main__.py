"""``python -m forenscope`` (and ``torchrun -m forenscope train CONFIG``): the command line."""

from forenscope.cli import main

main()
