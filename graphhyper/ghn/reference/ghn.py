"""A published GHN (GHN-2 or GHN-3) behind the same interface as our :class:`~graphhyper.ghn.GHN`.

:class:`PublishedGHN` pairs the published module layout (:class:`~graphhyper.ghn.reference.model.ReferenceGHN`)
with the reference's view of an architecture built from our trace
(:func:`~graphhyper.ghn.reference.view.reference_graph`), so ``predict``, ``predict_many`` and ``apply`` work as
they do for a GHN of ours, and ``graphhyper ghn predict --ckpt ghn3tm8`` needs nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from graphhyper.errors import InvalidInputError, UnknownOpError
from graphhyper.ghn.model import Prediction, _checked_state, check_apply_args, unpredicted_error

if TYPE_CHECKING:
    from graphhyper.ghn.reference.model import ReferenceGHN

__all__ = ["PublishedGHN", "load_published_ghn"]


class PublishedGHN(nn.Module):
    """A published GHN-2 / GHN-3 with :meth:`predict`, :meth:`predict_many` and :meth:`apply`.

    Predictions are what the reference code predicts for the same weights: the architecture is traced on meta
    tensors (no data, no forward pass) and viewed as the reference's graph; parameters the reference leaves at
    their initialisation are listed in ``Prediction.unpredicted``.
    """

    def __init__(self, model: ReferenceGHN, family: str, name: str, meta: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.model = model
        self.family = family
        self.name = name
        self.meta: dict[str, Any] = dict(meta or {})

    def __repr__(self) -> str:
        return f"PublishedGHN({self.name!r}, family={self.family!r}, parameters={self.num_parameters():,})"

    def _predict_into(self, module: nn.Module, strict: bool, fill: str, trace_kwargs: dict[str, Any]) -> Prediction:
        """Predict ``module`` straight into its parameters (no second copy of the weights): large tiled weights
        are gathered into the parameter's memory. Checks what will not be predicted before writing anything."""
        arch, ref = self._graph_of(module, dict(trace_kwargs))
        shapes = dict(arch.parameters)
        params = dict(module.named_parameters())
        missing = sorted(set(params) - set(self.model.predicted_names(ref, shapes, fill=fill)))
        if strict and missing:
            raise unpredicted_error(missing)
        out = {name: p.data for name, p in params.items()}
        pred = self.model.predict_graph(ref, shapes, out=out, fill=fill)
        return Prediction(pred, unpredicted=missing, unknown_ops=arch.unknown_ops())

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _graph_of(self, module_or_graph: Any, trace_kwargs: dict[str, Any]) -> Any:
        from graphhyper.arch import ArchGraph, trace
        from graphhyper.ghn.reference.view import reference_graph

        if isinstance(module_or_graph, nn.Module):
            module_or_graph = trace(module_or_graph, **trace_kwargs)
        elif trace_kwargs:
            raise InvalidInputError(f"trace options {sorted(trace_kwargs)} only apply to an nn.Module input.")
        if not isinstance(module_or_graph, ArchGraph):
            raise InvalidInputError(
                f"A published GHN predicts an nn.Module or an ArchGraph, got {type(module_or_graph).__name__}."
            )
        return module_or_graph, reference_graph(module_or_graph)

    @torch.no_grad()
    def predict(
        self, module_or_graph: Any, *, on_unknown: str = "report", fill: str = "reference", **trace_kwargs: Any
    ) -> Prediction:
        """Predict the parameters of one architecture (an ``nn.Module``, traced with ``trace_kwargs`` such as
        ``input_shape=(1, 3, 224, 224)``, or an :class:`~graphhyper.arch.ArchGraph`); ``on_unknown`` as in
        :meth:`GHN.predict`: ops outside our vocabulary are reported (default) or refused (``"error"``).

        ``fill="reference"`` (default) predicts exactly what the published code predicts; ``fill="all"`` also
        predicts the parameters it leaves at their initialisation, each decoded from a host node
        (:func:`~graphhyper.ghn.reference.targets.host_targets`), without changing the others."""
        if on_unknown not in ("report", "error"):
            raise InvalidInputError(f"on_unknown must be 'report' or 'error', got {on_unknown!r}")
        arch, ref = self._graph_of(module_or_graph, dict(trace_kwargs))
        unknown = arch.unknown_ops()
        if unknown and on_unknown == "error":
            raise UnknownOpError(
                f"{len(unknown)} op(s) outside the op vocabulary: {unknown[:5]}; register them with "
                "graphhyper.arch.ops.register_module_op / register_function_op."
            )
        shapes = dict(arch.parameters)
        pred = self.model.predict_graph(ref, shapes, fill=fill)
        missing = sorted(set(shapes) - set(pred))
        return Prediction(pred, unpredicted=missing, unknown_ops=unknown)

    def predict_many(
        self, items: Sequence[Any], *, on_unknown: str = "report", fill: str = "reference", **trace_kwargs: Any
    ) -> list[Prediction]:
        """:meth:`predict` for each item (the reference decodes one graph at a time too)."""
        return [self.predict(item, on_unknown=on_unknown, fill=fill, **trace_kwargs) for item in items]

    @torch.no_grad()
    def apply(  # type: ignore[override]  # fills a module, as GHN.apply does; nn.Module.apply(fn) is not used here
        self,
        module: nn.Module,
        prediction: Prediction | None = None,
        *,
        strict: bool = True,
        fill: str = "reference",
        **trace_kwargs: Any,
    ) -> Prediction:
        """Write predicted parameters into ``module`` (``load_state_dict`` semantics), as :meth:`GHN.apply`.

        With ``strict=True`` (default) a parameter the published GHN does not predict raises
        :class:`InvalidInputError` before anything is written; ``strict=False`` leaves those at their values.
        ``fill`` as in :meth:`predict` (``fill="all"`` leaves nothing unpredicted)."""
        check_apply_args(prediction, trace_kwargs)
        if prediction is None:
            if not any(p.is_meta for p in module.parameters()):
                return self._predict_into(module, strict, fill, trace_kwargs)
            prediction = self.predict(module, fill=fill, **trace_kwargs)
        state = _checked_state(module, prediction, strict)
        module.load_state_dict(state, strict=False, assign=any(p.is_meta for p in module.parameters()))
        return prediction


def load_published_ghn(name_or_path: str | os.PathLike[str]) -> PublishedGHN:
    """A published GHN by name (``"ghn3tm8"``, ``"ghn2_cifar10"``, ...; converted once into the cache, then
    memory-mapped) or from a file: the published pickle / torch file, or the safetensors + JSON pair written by
    ``graphhyper ghn convert`` (memory-mapped). GHN-2 checkpoints predict as ghn3's ``from_pretrained`` runs them."""
    from graphhyper.ghn.reference.model import ReferenceGHN, resolve_config
    from graphhyper.ghn.reference.published import PUBLISHED, ensure_converted, load_converted, load_published

    text = os.fspath(name_or_path)
    if text in PUBLISHED and not os.path.exists(text):
        ckpt = load_converted(ensure_converted(text))
    else:
        ckpt = load_published(name_or_path)
    # GHN-2 checkpoints run as ghn3's from_pretrained runs them (its graph builder is the one our view reproduces);
    # ReferenceGHN(config with ppuda=True) keeps ppuda's own forward pass for those who need it.
    config = {**resolve_config(ckpt.config, ckpt.state_dict), "ppuda": False}
    model = ReferenceGHN.from_reference_state_dict(ckpt.state_dict, config)
    return PublishedGHN(model, ckpt.family, os.path.basename(text), meta={"source": ckpt.source}).eval()
