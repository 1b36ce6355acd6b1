"""Dataset registry and loaders: cards in ``datasets/``, verified downloads, safe unpickling, splits.

>>> from graphhyper.data import load_hypergraph, list_datasets
>>> ds = load_hypergraph("cora-ca", split="random", seed=0, add_self_loops=True)  # doctest: +SKIP
"""

from graphhyper.data.cards import DatasetCard, get_card, list_datasets
from graphhyper.data.dataset import HypergraphDataset, from_tensors, hypergraph_statistics, load_hypergraph
from graphhyper.data.download import dataset_dir, default_root, download_file, ensure_files, verify_file
from graphhyper.data.enc import EncDataset, load_enc_dataset
from graphhyper.data.safe_pickle import SafeUnpickler, safe_load, safe_loads
from graphhyper.data.splits import Split, fixed_split, random_split


def load_code_dataset(*args, **kwargs):
    """Python-source hypergraph classification dataset; see :func:`graphhyper.data.code_ast.load_code_dataset`."""
    from graphhyper.data.code_ast import load_code_dataset as _load

    return _load(*args, **kwargs)


__all__ = [
    "DatasetCard",
    "get_card",
    "list_datasets",
    "HypergraphDataset",
    "from_tensors",
    "hypergraph_statistics",
    "load_hypergraph",
    "EncDataset",
    "load_enc_dataset",
    "dataset_dir",
    "default_root",
    "download_file",
    "ensure_files",
    "verify_file",
    "SafeUnpickler",
    "safe_load",
    "safe_loads",
    "Split",
    "fixed_split",
    "random_split",
    "load_code_dataset",
]
