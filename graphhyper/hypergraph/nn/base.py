"""The base class of the hypergraph layers: one ``__repr__``, one default ``reset_parameters()`` and one input
preparation for every layer, instead of a hand-written copy in each file."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from graphhyper.hypergraph.nn._utils import prepare, reset_module
from graphhyper.hypergraph.structure import Hypergraph


def reset_linear(lin: nn.Linear) -> None:
    """Glorot-uniform weight and zero bias: the initialisation of the layers' ``\\mathbf{\\Theta}``."""
    nn.init.xavier_uniform_(lin.weight)
    if lin.bias is not None:
        nn.init.zeros_(lin.bias)


class HypergraphLayer(nn.Module):
    """Base of the layers in :mod:`graphhyper.hypergraph.nn` (PyG's ``MessagePassing`` role, without the
    message machinery: every layer aggregates through :mod:`graphhyper.hypergraph.ops`).

    A subclass declares which attributes describe it and gets:

    - ``__repr__``: ``Name(arg, ..., key=value, ...)`` from the attributes named in ``repr_args`` (printed as
      values, typically the sizes) and ``repr_kwargs`` (printed as ``name=value``);
    - ``reset_parameters()``: calls ``reset_parameters()`` on every child that has one (recursing into the
      children that do not), in registration order; a layer with its own parameters overrides it;
    - ``prepare(x, hg)``: checks that ``x`` is a floating ``[N, F]`` tensor with ``F`` equal to the attribute
      named by ``input_size`` (``None``: any ``F``) and returns ``hg`` as a :class:`Hypergraph` on ``N`` nodes,
      wrapping a PyG-style ``hyperedge_index [2, nnz]`` once.
    """

    repr_args: ClassVar[tuple[str, ...]] = ("in_channels", "out_channels")
    repr_kwargs: ClassVar[tuple[str, ...]] = ()
    input_size: ClassVar[str | None] = "in_channels"
    #: whether ``forward`` takes a sparse CSR ``x`` through :func:`graphhyper.hypergraph.features.linear`: a
    #: model whose first layer says so gets CSR features when they are sparse enough (``feature_layout="auto"``)
    sparse_input: ClassVar[bool] = False

    def reset_parameters(self) -> None:
        reset_module(self)

    def prepare(self, x: Tensor, hg: Hypergraph | Tensor) -> Hypergraph:
        """Check ``x [N, F]`` and return ``hg`` as a ``Hypergraph`` on ``N`` nodes."""
        channels = x.size(-1) if self.input_size is None else getattr(self, self.input_size)
        return prepare(x, hg, channels)

    def __repr__(self) -> str:
        args = [str(getattr(self, name)) for name in self.repr_args]
        args += [f"{name}={getattr(self, name)!r}" for name in self.repr_kwargs]
        return f"{type(self).__name__}({', '.join(args)})"
