"""``python -m blackwell_model`` runs the command line."""

from .cli import main

raise SystemExit(main())
