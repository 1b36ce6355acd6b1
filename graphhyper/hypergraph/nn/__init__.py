"""Hypergraph layers, one per file, PyG-style: ``layer(x, hg)`` with ``hg`` a ``Hypergraph`` or a
``hyperedge_index [2, nnz]``. Every layer derives from :class:`HypergraphLayer` and reaches incidences only
through :mod:`graphhyper.hypergraph.ops`. The input helpers (:func:`as_hypergraph`, :func:`check_features`,
:func:`csr_order`), :func:`dropout` / :class:`Dropout` and :func:`reset_module` are public for the models built
on the layers."""

from graphhyper.hypergraph.nn._utils import Dropout, as_hypergraph, check_features, csr_order, dropout, reset_module
from graphhyper.hypergraph.nn.alldeepsets import AllDeepSetsConv
from graphhyper.hypergraph.nn.allsettransformer import AllSetTransformerConv
from graphhyper.hypergraph.nn.appnp import HypergraphAPPNP
from graphhyper.hypergraph.nn.base import HypergraphLayer, reset_linear
from graphhyper.hypergraph.nn.conhd import CoNHDConv
from graphhyper.hypergraph.nn.edhnn import EDHNNConv
from graphhyper.hypergraph.nn.hcha import HCHAConv
from graphhyper.hypergraph.nn.hdhgn import HDHGNConv
from graphhyper.hypergraph.nn.hgnn import HGNNConv
from graphhyper.hypergraph.nn.hgnnp import HGNNPConv
from graphhyper.hypergraph.nn.hnhn import HNHNConv
from graphhyper.hypergraph.nn.hypergcn import HyperGCNConv, hypergcn_graph
from graphhyper.hypergraph.nn.mlp import MLP
from graphhyper.hypergraph.nn.pma import PMA
from graphhyper.hypergraph.nn.setblocks import ISABBlock, UNPBlock
from graphhyper.hypergraph.nn.unigat import UniGATConv
from graphhyper.hypergraph.nn.unigcn import UniGCNConv
from graphhyper.hypergraph.nn.unigcnii import UniGCNIIConv
from graphhyper.hypergraph.nn.unigin import UniGINConv

__all__ = [
    "HypergraphLayer",
    "reset_linear",
    "as_hypergraph",
    "check_features",
    "csr_order",
    "dropout",
    "Dropout",
    "reset_module",
    "MLP",
    "PMA",
    "HGNNConv",
    "HGNNPConv",
    "HNHNConv",
    "HyperGCNConv",
    "hypergcn_graph",
    "UniGCNConv",
    "UniGATConv",
    "UniGINConv",
    "UniGCNIIConv",
    "HCHAConv",
    "HypergraphAPPNP",
    "AllDeepSetsConv",
    "AllSetTransformerConv",
    "EDHNNConv",
    "CoNHDConv",
    "UNPBlock",
    "ISABBlock",
    "HDHGNConv",
]
