"""Train the bundled GHN checkpoint from scratch on this machine (CPU) and export it.

    python scripts/train_ghn.py --out runs/ghn-mine --steps 3000 --max-minutes 110 --export ghn-mine

The run is resumable: run the same command again after a kill and it continues from ``OUT/last.pt``.
``--export-only`` bundles the newest checkpoint of ``OUT`` (e.g. while training still runs) into
``graphhyper/ghn/pretrained/NAME.{safetensors,json}``, recording the command, seed, steps, wall time and the
training metrics in the JSON. Same options as ``graphhyper ghn train``.
"""

from __future__ import annotations

import sys

from graphhyper.cli import main

if __name__ == "__main__":
    sys.exit(main(["ghn", "train", *sys.argv[1:]]))
