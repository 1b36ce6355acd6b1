"""Hypergraph layers, one per file, PyG-style: ``layer(x, hg)`` with ``hg`` a ``Hypergraph`` or a
``hyperedge_index [2, nnz]``. Every layer reaches incidences only through :mod:`graphhyper.hypergraph.ops`."""

from graphhyper.hypergraph.nn._utils import as_hypergraph
from graphhyper.hypergraph.nn.alldeepsets import AllDeepSetsConv
from graphhyper.hypergraph.nn.allsettransformer import AllSetTransformerConv
from graphhyper.hypergraph.nn.appnp import HypergraphAPPNP
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
    "as_hypergraph",
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
