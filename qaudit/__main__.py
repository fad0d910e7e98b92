"""Allow ``python -m qaudit``."""

from qaudit.cli import main

main()
