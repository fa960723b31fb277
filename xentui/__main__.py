import sys

from xentui.cli import main

sys.exit(main())
