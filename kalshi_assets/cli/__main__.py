"""`python -m kalshi_assets.cli ...` runs the `kalshi-assets` console script."""

import sys

from kalshi_assets.cli import main

sys.exit(main())
