"""The reference's graph of an architecture, as GHN-2 and GHN-3 read it.

The published GHNs were trained on graphs built by ppuda's / ghn3's own graph builder: one node per parameter
tensor (a conv's weight and its bias are two nodes) or parameter-free op (sum, concat, pooling, ...), typed from
their vocabulary ``PRIMITIVES_DEEPNETS1M``, with shortest-path virtual edges. Their predictions depend on that
graph, so :class:`ReferenceGraph` holds exactly what their forward pass reads, and it is built from our
:class:`~graphhyper.arch.ArchGraph` (never from a second tracer).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

#: The reference vocabulary (ppuda ``deepnets1m/genotypes.py``), in its order: node type ids index this list.
PRIMITIVES_DEEPNETS1M: tuple[str, ...] = (
    "max_pool",
    "avg_pool",
    "sep_conv",
    "dil_conv",
    "conv",
    "msa",
    "cse",
    "sum",
    "concat",
    "input",
    "bias",
    "bn",
    "ln",
    "pos_enc",
    "glob_avg",
)


@dataclass
class NodeInfo:
    """One row of the reference's ``node_info``: a node that predicts a parameter (or a pooling node).

    ``param`` is the module's parameter name (``"layer1.0.conv1.weight"``) or, for a pooling node, the op name;
    ``shape`` is the size the reference encodes for the node (the parameter's shape, or ``(1, 1, k, k)`` for
    pooling); ``last_weight`` / ``last_bias`` mark the classifier's weight and bias nodes.
    """

    node: int
    param: str
    op: str
    shape: tuple[int, ...] | None
    last_weight: bool = False
    last_bias: bool = False


@dataclass
class ReferenceGraph:
    """A graph in the reference's form (single cell).

    - ``node_feat``: ``LongTensor [N]``, ids into :data:`PRIMITIVES_DEEPNETS1M`, nodes in the reference's order
      (topological: node 0 is the input, node ``N-1`` the classifier's bias or last op).
    - ``node_info``: the rows of the nodes that predict a parameter or are pooling nodes, in node order.
    - ``adjacency``: ``LongTensor [N, N]``: 1 for a real edge ``i -> j``, ``k > 1`` for a virtual edge between
      nodes at shortest-path distance ``k`` (up to the cutoff), 0 otherwise; the reference's ``_Adj``.
    - ``shapes``: the size of every node (``None`` where the reference has none), the reference's ``_param_shapes``.
    - ``names``: every node's name as the reference's builder records it (the parameter's name, or the autograd
      function's such as ``"AddBackward0"``); for reports and comparisons, not read by the GHNs.
    """

    node_feat: torch.Tensor
    node_info: list[NodeInfo]
    adjacency: torch.Tensor
    shapes: list[tuple[int, ...] | None] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    @property
    def num_nodes(self) -> int:
        return int(self.node_feat.numel())

    def ops(self) -> list[str]:
        """The op name of every node."""
        return [PRIMITIVES_DEEPNETS1M[i] for i in self.node_feat.tolist()]

    def edges(self) -> torch.Tensor:
        """``LongTensor [E, 3]`` of ``(source, target, weight)``: the reference's ``edges``."""
        ind = torch.nonzero(self.adjacency)
        return torch.cat((ind, self.adjacency[ind[:, 0], ind[:, 1]].view(-1, 1)), dim=1)
