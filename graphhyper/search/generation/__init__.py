"""Architecture generation: a discrete diffusion model over a search space's decisions, guided sampling and edits.

* :mod:`~graphhyper.search.generation.diffusion`: ``CategoricalSpace`` (a space as slots of categorical
  decisions: ``nb201_categorical``, ``darts_categorical``), ``DiscreteDiffusion`` (D3PM) with its
  ``SlotTransformer`` denoiser, ``Guidance``
* :mod:`~graphhyper.search.generation.guided`: ``generate`` (guided sampling from a pretrained diffusion model),
  ``GPSurrogate``, ``make_guidance``, ``DiffusionSearcher`` (samples and edits inside a search loop)
"""

from graphhyper.search.generation import diffusion
from graphhyper.search.generation.diffusion import (
    CategoricalSpace,
    DiscreteDiffusion,
    Guidance,
    SlotTransformer,
    darts_categorical,
    nb201_categorical,
    training_set,
)
from graphhyper.search.generation.guided import (
    DiffusionSearcher,
    GPSurrogate,
    categorical_space,
    generate,
    make_guidance,
    pretrained,
    training_archs,
)

__all__ = [
    "CategoricalSpace",
    "DiffusionSearcher",
    "DiscreteDiffusion",
    "GPSurrogate",
    "Guidance",
    "SlotTransformer",
    "categorical_space",
    "darts_categorical",
    "diffusion",
    "generate",
    "make_guidance",
    "nb201_categorical",
    "pretrained",
    "training_archs",
    "training_set",
]
