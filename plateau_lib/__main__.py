"""``python -m plateau_lib``: the command line (``plateau_lib.book.cli``)."""

from .book.cli import main

raise SystemExit(main())
