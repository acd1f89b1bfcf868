from nbtrack.cli import main

main()
