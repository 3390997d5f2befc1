"""``python -m plateau_lib``: see :mod:`plateau_lib.cli`."""

from .cli import main

raise SystemExit(main())
