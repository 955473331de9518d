from mergetool.cli import main

main()
