"""``python -m mmff.cli`` = the ``mmff`` console script."""
import sys

from mmff.cli import main

sys.exit(main())
