"""``python -m leakhunter``: the same CLI as the ``leakhunter`` console script."""

from leakhunter.cli.main import main

raise SystemExit(main())
