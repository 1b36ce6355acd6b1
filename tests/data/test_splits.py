import pytest
import torch

from graphhyper.data import fixed_split, random_split
from graphhyper.errors import InvalidInputError


def test_random_split_disjoint_cover_and_seeded():
    s = random_split(1001, seed=3)
    parts = [s.train, s.val, s.test]
    assert [p.numel() for p in parts] == [500, 250, 251]
    allidx = torch.cat(parts)
    assert allidx.unique().numel() == 1001  # disjoint and complete
    again = random_split(1001, seed=3)
    assert torch.equal(again.val, s.val)
    other = random_split(1001, seed=4)
    assert not torch.equal(other.val, s.val)
    tr, va, te = s.masks(1001)
    assert not (va & te).any() and int(va.sum()) == 250


def test_fixed_split_carves_real_validation():
    train = torch.arange(0, 10)
    test = torch.arange(10, 100)
    s = fixed_split(train, test, seed=0, val_size=20)
    assert torch.equal(s.train, train)
    assert s.val.numel() == 20 and s.test.numel() == 70
    assert not torch.isin(s.val, s.test).any()
    assert torch.equal(torch.cat([s.val, s.test]).sort().values, test)
    exact = fixed_split(train, test, val_size=0)
    assert exact.val.numel() == 0 and torch.equal(exact.test, test)


def test_bad_split_arguments():
    with pytest.raises(InvalidInputError):
        random_split(10, train_ratio=0.8, val_ratio=0.3)
    with pytest.raises(InvalidInputError, match="overlap"):
        fixed_split(torch.tensor([1, 2]), torch.tensor([2, 3]))
