"""Synthetic hypergraphs: a hypergraph stochastic block model (HSBM) with planted classes and features.

Vectorised numpy throughout (no per-hyperedge Python loop), so it scales from hundreds to ~10^7 incidences.
"""

from __future__ import annotations

import numpy as np
import torch

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph.structure import Hypergraph


def hsbm(
    num_nodes: int,
    num_edges: int,
    num_classes: int = 2,
    feature_dim: int = 16,
    mean_edge_size: float = 4.0,
    p_in: float = 0.8,
    feature_noise: float = 1.0,
    min_edge_size: int = 2,
    seed: int = 0,
) -> tuple[Hypergraph, torch.Tensor, torch.Tensor]:
    r"""Sample a hypergraph with planted node classes.

    Every node gets a class uniformly at random. Every hyperedge gets a size ``max(min_edge_size, 1 + Poisson(
    mean_edge_size - 1))`` (capped at ``num_nodes``) and a home class; each member is drawn from the home class
    with probability ``p_in`` and from all nodes otherwise (repeated members are merged). Features are a class
    mean (unit-norm Gaussian direction) plus ``N(0, feature_noise^2)`` noise.

    Returns:
        ``(hg, x [V, feature_dim] float32, y [V] long)``; the same ``seed`` gives the same output.
    """
    _check(num_nodes, num_edges, num_classes, feature_dim, mean_edge_size, p_in, min_edge_size)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, size=num_nodes)
    node, edge = _incidences(rng, y, num_nodes, num_edges, num_classes, mean_edge_size, p_in, min_edge_size)
    index = torch.stack([torch.from_numpy(node), torch.from_numpy(edge)])
    del node, edge
    x = _features(rng, y, num_classes, feature_dim, feature_noise)
    hg = Hypergraph(num_nodes, hyperedge_index=index, num_edges=num_edges, deduplicate=True)
    return hg, torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))


def _incidences(
    rng: np.random.Generator,
    y: np.ndarray,
    num_nodes: int,
    num_edges: int,
    num_classes: int,
    mean_edge_size: float,
    p_in: float,
    min_edge_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``(node, edge)`` int64 ids of the sampled incidences (repeats not yet merged)."""
    order = np.argsort(y, kind="stable")
    counts = np.bincount(y, minlength=num_classes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sizes = np.maximum(min_edge_size, 1 + rng.poisson(max(mean_edge_size - 1.0, 0.0), size=num_edges))
    sizes = np.minimum(sizes, num_nodes)
    home = rng.integers(0, num_classes, size=num_edges)
    home = np.where(counts[home] > 0, home, y[rng.integers(0, num_nodes, size=num_edges)])
    edge = np.repeat(np.arange(num_edges, dtype=np.int64), sizes)
    nnz = edge.size
    inside = rng.random(nnz) < p_in
    cls = home[edge]
    pick_in = order[starts[cls] + (rng.random(nnz) * counts[cls]).astype(np.int64).clip(max=counts[cls] - 1)]
    del cls
    node = np.where(inside, pick_in, rng.integers(0, num_nodes, size=nnz)).astype(np.int64, copy=False)
    return node, edge


_ROWS = 1 << 16  # feature rows drawn per chunk: float64 temporaries of 64k rows, not of all V


def _features(
    rng: np.random.Generator, y: np.ndarray, num_classes: int, feature_dim: int, feature_noise: float
) -> np.ndarray:
    """``[V, F]`` float32 class means (norm 2) plus Gaussian noise, drawn in row chunks (same stream as one draw)."""
    means = rng.standard_normal((num_classes, feature_dim))
    means /= np.linalg.norm(means, axis=1, keepdims=True).clip(min=1e-12)
    x = np.empty((y.size, feature_dim), dtype=np.float32)
    for lo in range(0, y.size, _ROWS):
        hi = min(lo + _ROWS, y.size)
        x[lo:hi] = means[y[lo:hi]] * 2.0 + feature_noise * rng.standard_normal((hi - lo, feature_dim))
    return x


def random_hypergraph(
    num_nodes: int, num_edges: int, mean_edge_size: float = 3.0, seed: int = 0, weighted: bool = False
) -> Hypergraph:
    """Uniform random hypergraph (sizes ``1 + Poisson(mean_edge_size - 1)``), optional random weights in (0.5, 2)."""
    hg, _, _ = hsbm(num_nodes, num_edges, 1, 1, mean_edge_size, p_in=0.0, min_edge_size=1, seed=seed)
    if weighted:
        gen = torch.Generator().manual_seed(seed)
        w = 0.5 + 1.5 * torch.rand(num_edges, generator=gen)
        hg = hg._replace(hyperedge_weight=w)
    return hg


def _check(num_nodes, num_edges, num_classes, feature_dim, mean_edge_size, p_in, min_edge_size) -> None:
    for name, value in (
        ("num_nodes", num_nodes),
        ("num_edges", num_edges),
        ("num_classes", num_classes),
        ("feature_dim", feature_dim),
        ("min_edge_size", min_edge_size),
    ):
        if not isinstance(value, (int, np.integer)) or value < 0:
            raise InvalidInputError(f"{name} must be a non-negative int, got {value!r}.")
    if num_nodes == 0 and num_edges > 0:
        raise InvalidInputError("num_nodes must be > 0 when num_edges > 0.")
    if num_classes < 1:
        raise InvalidInputError("num_classes must be >= 1.")
    if not 0.0 <= p_in <= 1.0:
        raise InvalidInputError(f"p_in must be in [0, 1], got {p_in}.")
    if mean_edge_size < 1:
        raise InvalidInputError(f"mean_edge_size must be >= 1, got {mean_edge_size}.")
