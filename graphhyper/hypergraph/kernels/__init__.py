"""Implementations behind :mod:`graphhyper.hypergraph.ops`.

* :mod:`.torch_ref` — native torch (CSR ``torch.sparse.mm`` with custom backward, ``index_add_``,
  ``scatter_reduce``); runs everywhere, autograd everywhere.
* :mod:`.triton_kernels` — Triton kernels for CUDA (segment sum/max over CSR, fused HGNN propagation); imported
  lazily, also runnable on CPU under ``TRITON_INTERPRET=1`` for testing.

Both work on :class:`Layout`: one side of the incidence structure seen as segments. The ``edge`` layout has one
segment per hyperedge (positions = incidences in CSR order, source = node); the ``node`` layout has one segment per
node (positions = CSC order, source = hyperedge).
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class Layout(NamedTuple):
    """Segments over the incidences.

    ``ptr [S+1]``: positions ``ptr[s]:ptr[s+1]`` belong to segment ``s``; ``perm [nnz]``: incidence id (CSR order)
    at each position; ``src [nnz]``: source row (the *other* side) at each position; ``seg_inc``/``src_inc [nnz]``:
    segment / source id of each incidence in CSR order; ``num_segments``/``num_sources``.
    """

    ptr: torch.Tensor
    perm: torch.Tensor
    src: torch.Tensor
    seg_inc: torch.Tensor
    src_inc: torch.Tensor
    num_segments: int
    num_sources: int
    identity: bool  # perm is arange(nnz)


def edge_layout(hg) -> Layout:
    """Segments = hyperedges (reduce nodes into hyperedges)."""

    def make():
        perm = torch.arange(hg.nnz, device=hg.device)
        return Layout(hg.edge_ptr, perm, hg.inc_node, hg.inc_edge, hg.inc_node, hg.num_edges, hg.num_nodes, True)

    return hg.cache("layout_edge", make)


def node_layout(hg) -> Layout:
    """Segments = nodes (reduce hyperedges into nodes)."""

    def make():
        return Layout(
            hg.node_ptr, hg.csc_perm, hg.csc_edge, hg.inc_node, hg.inc_edge, hg.num_nodes, hg.num_edges, False
        )

    return hg.cache("layout_node", make)


def transpose(hg, layout: Layout) -> Layout:
    return node_layout(hg) if layout.identity else edge_layout(hg)


__all__ = ["Layout", "edge_layout", "node_layout", "transpose"]
