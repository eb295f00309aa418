"""Allow ``python -m painchain_gh``."""

from painchain_gh.cli import main

main()
