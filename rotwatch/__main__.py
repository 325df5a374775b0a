from rotwatch.cli import main

main()
