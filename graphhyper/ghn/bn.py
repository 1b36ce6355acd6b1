"""Batch-norm statistics for predicted parameters.

A GHN predicts parameters, not running statistics: the buffers of a freshly built network are
``mean = 0, var = 1``. :func:`recalibrate_bn` re-estimates them from a few training batches (cumulative
average, no gradient) so the network can be evaluated in ``eval()`` mode.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import torch
from torch import nn


def _bn_modules(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_bn(
    module: nn.Module, batches: Iterable[torch.Tensor], params: Mapping[str, torch.Tensor] | None = None
) -> int:
    """Reset and re-estimate the running statistics of every batch-norm layer of ``module``.

    Args:
        module: the network (its BN buffers are overwritten).
        batches: input tensors (a few batches are enough).
        params: optional predicted parameters, used through ``torch.func.functional_call``.

    Returns:
        the number of batch-norm layers recalibrated (0: nothing to do, the module is left unchanged).
        The module is left in ``eval()`` mode.
    """
    bns = _bn_modules(module)
    if not bns:
        module.eval()
        return 0
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over the given batches
    module.train()
    for x in batches:
        if params is None:
            module(x)
        else:
            torch.func.functional_call(module, dict(params), (x,))
    for m, mom in zip(bns, momenta):
        m.momentum = mom
    module.eval()
    return len(bns)
