"""Search spaces: sample architecture specs, build ``nn.Module`` s, trace them into ArchGraphs.

- :mod:`~graphhyper.arch.spaces.darts`: DARTS / DeepNets-1M cells, ID and OOD splits (wide, deep, dense, bn_free).
- :mod:`~graphhyper.arch.spaces.nb201`: the 15,625 NAS-Bench-201 cells.
- :mod:`~graphhyper.arch.spaces.gpt`: GPT-2-style byte-level decoders (depth, width, heads, MLP ratio, tying).
- :mod:`~graphhyper.arch.spaces.vit`: small ViTs for 8x8 digits and MNIST-1D.

Each space module offers ``sample_specs(n, seed, split, **kw)``, ``build(spec)`` and ``spec_to_graph(spec)``;
:func:`get_space` returns them behind one :class:`Space` interface (used by
:class:`~graphhyper.arch.collection.ArchCollection`), so a collection does not care which space it holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from ...errors import InvalidInputError
from . import darts, gpt, nb201, vit


@dataclass(frozen=True)
class Space:
    """Uniform access to one search space: specs to and from JSON, sampling, building, tracing, hashing."""

    name: str
    splits: tuple
    sample_specs: Callable[..., list]
    build: Callable[[Any], Any]
    spec_to_graph: Callable[[Any], Any]
    spec_hash: Callable[[Any], str]
    to_json: Callable[[Any], str]
    from_json: Callable[[str], Any]
    all_specs: Callable[[], list] | None = None  # finite spaces: every spec, in a fixed order


def _nb201_sample(n, seed=0, split="id", **kw):
    if kw:
        raise InvalidInputError(f"NB201 sampling takes no options, got {sorted(kw)}; build options go to nb201.build.")
    return nb201.sample_specs(n, seed, split)


SPACES = {
    "darts": Space(
        "darts",
        darts.SPLITS,
        darts.sample_specs,
        darts.build,
        darts.spec_to_graph,
        lambda s: s.hash(),
        lambda s: s.to_json(),
        darts.DartsSpec.from_json,
    ),
    "nb201": Space(
        "nb201",
        ("id",),
        _nb201_sample,
        nb201.build,
        nb201.spec_to_graph,
        nb201.cell_hash,
        lambda c: json.dumps(nb201.to_str(c)),
        lambda s: nb201.parse(json.loads(s)),
        nb201.all_cells,
    ),
    "gpt": Space(
        "gpt",
        tuple(gpt.SPLITS),
        gpt.sample_specs,
        gpt.build,
        gpt.spec_to_graph,
        lambda s: s.hash(),
        lambda s: s.to_json(),
        gpt.GPTSpec.from_json,
    ),
    "vit": Space(
        "vit",
        tuple(vit.SPLITS),
        vit.sample_specs,
        vit.build,
        vit.spec_to_graph,
        lambda s: s.hash(),
        lambda s: s.to_json(),
        vit.ViTSpec.from_json,
    ),
}


def get_space(name: str) -> Space:
    """The :class:`Space` called ``name`` (``"darts"``, ``"nb201"``, ``"gpt"`` or ``"vit"``)."""
    if name not in SPACES:
        raise InvalidInputError(f"Unknown search space {name!r}. Use one of {sorted(SPACES)}.")
    return SPACES[name]


__all__ = ["darts", "gpt", "nb201", "vit", "Space", "SPACES", "get_space"]
