"""Worker process for the distributed / resume tests: runs graphhyper.search.run on a shared storage.

    python _worker.py STORAGE STUDY N_TRIALS SEED SLEEP_SECONDS [--log EVAL_LOG]

The objective is a cheap deterministic function of the NB201 cell; each real evaluation appends the cell's
hash to EVAL_LOG (one line per evaluation), so the test can check that no architecture was evaluated twice.
"""

from __future__ import annotations

import os
import sys
import time


def main(argv) -> int:
    storage, study, n_trials, seed, sleep = argv[:5]
    log = argv[argv.index("--log") + 1] if "--log" in argv else None
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from graphhyper.search import nb201_space, run

    space = nb201_space()
    weights = {"none": 0.0, "skip_connect": 1.0, "nor_conv_1x1": 2.0, "nor_conv_3x3": 3.0, "avg_pool_3x3": 0.5}

    def objective(c):
        if log:
            with open(log, "a") as f:
                f.write(f"{c.hash} {os.getpid()}\n")
        time.sleep(float(sleep))
        return sum(weights[op] * (k + 1) for k, op in enumerate(c.arch))

    run(
        space,
        objective,
        int(n_trials),
        storage=None if storage == "default" else storage,
        study_name=study,
        seed=int(seed),
        progress=False,
        heartbeat_interval=1,
        grace_period=2,
        sampler="random",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
