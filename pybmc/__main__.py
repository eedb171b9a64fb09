from pybmc.cli import main

main()
