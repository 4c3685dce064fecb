import sys

from pgnotes.cli import main

sys.exit(main())
