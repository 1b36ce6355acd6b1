import pytest
import torch

from graphhyper.errors import InvalidInputError
from graphhyper.hypergraph.nn import Dropout, dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.753])
def test_dropout_keeps_the_expected_fraction_and_the_mean(p):
    torch.manual_seed(0)
    x = torch.ones(400_001)
    y = dropout(x, p, True)
    kept = y != 0
    assert abs(float(kept.float().mean()) - (1 - p)) < 3e-3
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    assert abs(float(y.mean()) - 1.0) < 1e-2


def test_dropout_mask_is_independent_across_positions():
    torch.manual_seed(1)
    keep = (dropout(torch.ones(200_000), 0.5, True) != 0).float()
    even, odd = keep[0::2], keep[1::2]  # the two 16-bit halves of one random int32
    corr = float(((even - even.mean()) * (odd - odd.mean())).mean() / (even.std() * odd.std()))
    assert abs(corr) < 0.01


def test_dropout_gradient_uses_the_same_mask():
    torch.manual_seed(2)
    x = torch.randn(37, 11, requires_grad=True)
    y = dropout(x, 0.4, True)
    y.sum().backward()
    expected = (y != 0).float() / 0.6
    assert torch.allclose(x.grad, expected)


def test_dropout_is_identity_in_eval_and_rejects_bad_p():
    x = torch.randn(5, 3)
    assert dropout(x, 0.5, False) is x
    assert torch.equal(dropout(x, 1.0, True), torch.zeros_like(x))
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        dropout(x, 1.5, True)
    m = Dropout(0.3).eval()
    assert m(x) is x and "p=0.3" in repr(m)
