"""Optuna search over NAS-Bench-201 cells: on the 12-epoch table if $GRAPHHYPER_DATA has it, else a zero-cost proxy.

Usage: python examples/architecture_search.py [--trials 20] [--storage sqlite:///nb201.db] [--proxy jacob_cov]
"""

import argparse

import optuna
import torch

from graphhyper.errors import DatasetError
from graphhyper.search import NB201Table, nb201_space, run
from graphhyper.search.objectives import ZeroCost
from graphhyper.search.proxies import synthetic_batch

parser = argparse.ArgumentParser()
parser.add_argument("--trials", type=int, default=20)
parser.add_argument("--storage", default=None, help="e.g. sqlite:///nb201.db or postgresql://...; default: memory")
parser.add_argument("--proxy", default="jacob_cov", help="zero-cost proxy used when the table is absent")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
torch.set_num_threads(2)
optuna.logging.set_verbosity(optuna.logging.WARNING)
storage = args.storage or optuna.storages.InMemoryStorage()

try:  # a table look-up per trial: select on cifar10-val, report cifar10-test (both 12-epoch numbers)
    table = NB201Table.load()
    val, test = table.metric("cifar10-val"), table.metric("cifar10-test")
    space, objective = nb201_space(), lambda c: float(val[table.index(c.arch)])
    print(f"objective: NB201 cifar10-val accuracy ({table.fidelity})")
except DatasetError as exc:
    table = None
    print(f"NB201 table not available ({exc.__class__.__name__}); objective: zero-cost proxy {args.proxy!r}")
    space = nb201_space(C=8, N=1)  # small cells: the proxy needs one forward/backward per trial
    objective = ZeroCost(args.proxy, synthetic_batch((3, 32, 32), batch_size=32, seed=args.seed))

res = run(
    space, objective, n_trials=args.trials, storage=storage, study_name="example-nb201", seed=args.seed, progress=False
)
best = res.best
print(f"trials: {len(res.trials)}")
print(f"best cell: {best.user_attrs['arch']}")
print(f"best value: {best.value:.4f}")
if table is not None:
    i = table.index(space.from_params(best.params))
    print(f"its cifar10-test accuracy: {test[i]:.2f}% (table oracle {table.oracle():.2f}%)")
