"""`python -m rotwatch`: the command line, as the `rotwatch` script runs it."""

from rotwatch.cli import main

if __name__ == "__main__":
    main()
