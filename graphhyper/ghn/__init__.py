"""Graph hypernetworks: predict every parameter of an unseen architecture in one forward pass.

>>> from graphhyper import ghn
>>> model = ghn.from_pretrained()        # the bundled default, no network
>>> params = model.predict(net, input_shape=(1, 3, 224, 224))   # doctest: +SKIP
>>> torch.func.functional_call(net, params, (x,))          # doctest: +SKIP
"""

from graphhyper.ghn.bn import recalibrate_bn
from graphhyper.ghn.hub import DEFAULT_GHN, from_pretrained, list_pretrained, load, save
from graphhyper.ghn.model import GHN, GHNConfig, Prediction

__all__ = [
    "DEFAULT_GHN",
    "GHN",
    "GHNConfig",
    "Prediction",
    "from_pretrained",
    "list_pretrained",
    "load",
    "save",
    "recalibrate_bn",
]
