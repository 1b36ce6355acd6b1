import sys

from graphhyper.cli import main

sys.exit(main())
