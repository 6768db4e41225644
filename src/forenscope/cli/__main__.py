from forenscope.cli import main

main()
