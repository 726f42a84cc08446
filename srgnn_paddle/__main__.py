"""``python -m srgnn_paddle``: see :mod:`srgnn_paddle.cli`."""
import sys

from srgnn_paddle.cli import main

sys.exit(main())
