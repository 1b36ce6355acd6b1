"""Every torchvision classification model gets every parameter predicted by the bundled GHN."""

from __future__ import annotations

import pytest
import torch

from graphhyper.ghn import GHN, GHNConfig, from_pretrained, hub

tv = pytest.importorskip("torchvision")

NAMES = tv.models.list_models(module=tv.models)


@pytest.fixture(scope="module")
def ghn():
    if hub.list_pretrained():
        return from_pretrained(hub.list_pretrained()[0])
    torch.manual_seed(0)  # before the checkpoint exists: same default config, fresh weights
    return GHN(GHNConfig()).eval()


@pytest.mark.slow
def test_all_torchvision_classification_models(ghn):
    from graphhyper.arch import meta_init, trace

    assert len(NAMES) >= 70
    problems = []
    for name in NAMES:
        with meta_init():
            model = tv.models.get_model(name)
        size = 299 if name.startswith("inception") else 224
        graph = trace(model, input_shape=(1, 3, size, size))
        with torch.no_grad():
            pred = ghn.predict(graph)
        expected = dict(model.named_parameters())
        if pred.unpredicted or set(pred) != set(expected):
            extra = sorted(set(pred) - set(expected))[:3]
            problems.append(f"{name}: unpredicted {pred.unpredicted[:3]}, extra {extra}")
        for k, v in pred.items():
            if k in expected and tuple(v.shape) != tuple(expected[k].shape):
                problems.append(f"{name}.{k}: shape {tuple(v.shape)} != {tuple(expected[k].shape)}")
            elif not torch.isfinite(v).all():
                problems.append(f"{name}.{k}: non-finite values")
        del pred, model, graph
    assert not problems, problems[:20]


def test_functional_call_and_apply_on_a_torchvision_model(ghn):
    torch.manual_seed(0)
    model = tv.models.resnet18(num_classes=7)
    pred = ghn.predict(model, input_shape=(1, 3, 64, 64))
    assert not pred.unpredicted
    x = torch.randn(2, 3, 64, 64)
    out = torch.func.functional_call(model.eval(), dict(pred), (x,))
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    ghn.apply(model, input_shape=(1, 3, 64, 64))
    torch.testing.assert_close(model(x), out, rtol=1e-4, atol=1e-4)
