from quantgrid.cli import main

main()
