"""Library code for experiments, above :mod:`graphhyper.hypergraph`, :mod:`graphhyper.data` and
:mod:`graphhyper.search` and below :mod:`graphhyper.cli` (and the scripts, which are thin fronts over it).

* :mod:`~graphhyper.experiments.config`: ``RunConfig`` / ``TunedConfig``, the one config style (dataclasses loaded
  from JSON or TOML, unknown keys refused), ``load_config``, ``parse_key_values`` (every ``--set``-style option)
* :mod:`~graphhyper.experiments.protocol`: the benchmark protocol, ``PROTOCOL`` (per model),
  ``DATASET_PROTOCOL`` (per dataset), ``config_for``
* :mod:`~graphhyper.experiments.table`: ``run_table``, the resumable datasets x models x seeds table
  (``graphhyper hypergraph table``)
* :mod:`~graphhyper.experiments.tuning`: Optuna tuning of hypergraph models on validation accuracy, ``tune``,
  ``evaluate_configs``, ``choose_config``, ``run_config`` (``graphhyper hypergraph tune``)
* :mod:`~graphhyper.experiments.edgepred`: hyperedge-prediction runs, ``run_edge_prediction``
  (``graphhyper hypergraph edgepred``, ``scripts/edgepred_table.py``)
"""

from graphhyper.experiments.config import RunConfig, TunedConfig, load_config, parse_key_values
from graphhyper.experiments.protocol import DATASET_PROTOCOL, PROTOCOL, config_for
from graphhyper.experiments.table import RunOptions, run_table
from graphhyper.experiments.tuning import choose_config, evaluate_configs, run_config, tune

__all__ = [
    "DATASET_PROTOCOL",
    "PROTOCOL",
    "RunConfig",
    "RunOptions",
    "TunedConfig",
    "choose_config",
    "config_for",
    "evaluate_configs",
    "load_config",
    "parse_key_values",
    "run_config",
    "run_table",
    "tune",
]
