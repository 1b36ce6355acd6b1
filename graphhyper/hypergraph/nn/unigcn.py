"""UniGCN convolution (Huang and Yang, "UniGNN: a Unified Framework for Graph and Hypergraph Neural Networks",
IJCAI 2021)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphhyper.hypergraph import ops
from graphhyper.hypergraph.nn._utils import safe_pow
from graphhyper.hypergraph.nn.base import HypergraphLayer, reset_linear
from graphhyper.hypergraph.structure import Hypergraph


def unigcn_propagate(x: Tensor, hg: Hypergraph) -> Tensor:
    r"""The weight-free UniGCN step :math:`\tilde{x}_v = d_v^{-1/2} \sum_{e \ni v} w_e\, d_e^{-1/2} h_e`.

    :math:`h_e` is the mean of :math:`x` over :math:`e`, :math:`d_v = \sum_{e \ni v} w_e` and :math:`d_e` the
    mean of :math:`d_v` over the nodes of :math:`e`. Shared by :class:`UniGCNConv` and :class:`UniGCNIIConv`.
    """
    to_edges, to_nodes = _unigcn_weights(hg, x.dtype)
    return ops.e2v(ops.v2e(x, hg, aggr="sum", weight=to_edges), hg, aggr="sum", weight=to_nodes, edge_weight=False)


def _unigcn_weights(hg: Hypergraph, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Per-incidence weights (CSR order) of the two sums of :func:`unigcn_propagate`, cached on ``hg``:
    ``d_e^{-1/2} / |e|`` (mean over ``e`` with ``e``'s scale) and ``w_e d_v^{-1/2}`` (the node side), so a call
    is two weighted sparse products and no per-call degree or rescaling work."""

    def make() -> tuple[Tensor, Tensor]:
        d_v = hg.weighted_node_degree.to(dtype)
        d_e = ops.v2e(d_v[:, None], hg, aggr="mean")[:, 0]
        size = hg.edge_degree.to(dtype).clamp(min=1)
        to_edges = (safe_pow(d_e, -0.5) / size)[hg.inc_edge]
        to_nodes = hg.hyperedge_weight.to(dtype)[hg.inc_edge] * safe_pow(d_v, -0.5)[hg.inc_node]
        return to_edges.contiguous(), to_nodes.contiguous()

    weights: tuple[Tensor, Tensor] = hg.cache(f"unigcn_weights_{dtype}", make)
    return weights


class UniGCNConv(HypergraphLayer):
    r"""UniGCN: GCN's symmetric normalisation lifted to hypergraphs.

    .. math::
        \mathbf{h}_e = \frac{1}{|e|} \sum_{u \in e} \mathbf{\Theta}^\top \mathbf{x}_u, \qquad
        \mathbf{x}'_v = \frac{1}{\sqrt{d_v}} \sum_{e \ni v} \frac{w_e}{\sqrt{d_e}} \mathbf{h}_e + \mathbf{b}

    with :math:`d_v = \sum_{e \ni v} w_e` and :math:`d_e = \frac{1}{|e|}\sum_{u \in e} d_u` (unit weights give the
    paper's rule). The paper adds a self-loop hyperedge to every node first (``hg.add_self_loops()``); the model
    builder does, the layer does not. Isolated nodes get :math:`\mathbf{b}`.

    Args:
        in_channels: input size :math:`F`.
        out_channels: output size :math:`F'`.
        bias: learn an additive bias.
        normalize: L2-normalise each output row (the reference code's ``--use-norm``).

    Shapes:
        - **input:** ``x [V, F]``, ``hg``: a ``Hypergraph`` or ``hyperedge_index [2, nnz]``
        - **output:** ``[V, F']``
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True, normalize: bool = False) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.normalize = in_channels, out_channels, normalize
        self.lin = nn.Linear(in_channels, out_channels, bias=bias)
        self.reset_parameters()

    repr_kwargs = ("normalize",)

    def reset_parameters(self) -> None:
        reset_linear(self.lin)

    # A node's output needs its own hyperedges, their members, the members' weighted degrees, w_e and |e|: all kept
    # by a per-layer trim of a sample (graphhyper.hypergraph.sampling.trim); forward takes out_rows.
    trim_safe = True

    def forward(self, x: Tensor, hg: Hypergraph | Tensor, out_rows: int | None = None) -> Tensor:
        """``out_rows``: return only the first rows (a per-layer trim)."""
        hg = self.prepare(x, hg)
        out = unigcn_propagate(x @ self.lin.weight.t(), hg)[:out_rows]
        if self.lin.bias is not None:
            out = out + self.lin.bias
        return F.normalize(out, dim=-1) if self.normalize else out
