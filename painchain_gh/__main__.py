"""Allow ``python -m painchain_gh``."""

from painchain_gh.cli.app import main

main()
