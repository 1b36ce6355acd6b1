"""ArchCollection: seeded generation, disjoint splits, compact lazy save/load, corruption errors."""

from __future__ import annotations

import gzip
import json

import pytest
import torch

from graphhyper.arch.collection import ArchCollection
from graphhyper.arch.spaces import darts, nb201
from graphhyper.errors import DatasetError, GraphhyperError, InvalidInputError, SearchError

SPLITS = {"train": 40, "id_test": 10, "wide": 4, "deep": 4, "dense": 4, "bn_free": 4}
DIGITS = dict(in_channels=1, image_size=8, num_classes=10)


@pytest.fixture(scope="module")
def col() -> ArchCollection:
    return ArchCollection.generate("darts", seed=0, splits=SPLITS, **DIGITS)


def test_generation_is_seeded(col, tmp_path):
    again = ArchCollection.generate("darts", seed=0, splits=SPLITS, **DIGITS)
    other = ArchCollection.generate("darts", seed=1, splits=SPLITS, **DIGITS)
    a, b, c = (x.save(tmp_path / f"{i}.jsonl.gz") for i, x in enumerate((col, again, other)))
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    assert col.split_sizes() == SPLITS and len(col) == sum(SPLITS.values())


def test_splits_are_disjoint_and_from_the_right_distribution(col):
    hashes = {name: {col.hash(i) for i in col.indices(name)} for name in SPLITS}
    all_hashes = [h for hs in hashes.values() for h in hs]
    assert len(all_hashes) == len(set(all_hashes)) == len(col)
    assert not hashes["train"] & hashes["id_test"]
    assert all(s.width >= 48 for s in col.split("wide"))
    assert all(s.num_cells >= 12 for s in col.split("deep"))
    assert all(s.num_nodes >= 5 for s in col.split("dense"))
    assert all(s.norm == "none" for s in col.split("bn_free"))
    assert all(s.width <= 32 and s.norm == "bn" for s in col.split("train") + col.split("id_test"))
    assert all(s.in_channels == 1 and s.image_size == 8 for s in col.split("train"))
    assert all(col.hash(i) == col.spec(i).hash() for i in range(len(col)))


@pytest.mark.parametrize("name", ["c.jsonl", "c.jsonl.gz"])
def test_save_load_round_trip_is_lazy(col, tmp_path, name):
    path = col.save(tmp_path / name)
    loaded = ArchCollection.load(path)
    assert loaded._cache == {}  # nothing parsed yet
    assert loaded.split_sizes() == col.split_sizes()
    assert [loaded.hash(i) for i in range(len(col))] == [col.hash(i) for i in range(len(col))]
    first = loaded.indices("wide")[0]
    assert loaded.spec(first) == col.spec(first) and list(loaded._cache) == [first]
    assert loaded.split("deep") == col.split("deep")
    loaded.verify()
    header = loaded.header
    assert header["seed"] == 0 and header["space_kwargs"] == DIGITS and header["count"] == len(col)


def test_build_and_graph(col):
    i = col.indices("bn_free")[0]
    net = col.build(i)
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    g = col.graph(i)
    assert g.num_params == sum(p.numel() for p in net.parameters()) and g.unmapped_parameters() == []


def test_compact_on_disk(col, tmp_path):
    size = col.save(tmp_path / "c.jsonl.gz").stat().st_size
    assert size < 200 * len(col)  # bytes per architecture, compressed


def test_nb201_collection_dedups_isomorphic_cells():
    col = ArchCollection.generate("nb201", seed=0, splits={"train": 300, "test": 100})
    cells = col.split("train") + col.split("test")
    assert len({nb201.cell_hash(c) for c in cells}) == 400
    assert col.build(col.indices("test")[0])(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    n_semantic = len({nb201.cell_hash(c) for c in nb201.all_cells()})
    with pytest.raises(SearchError, match="too small"):
        ArchCollection.generate("nb201", seed=0, splits={"train": n_semantic + 1})
    everything = ArchCollection.generate("nb201", seed=0, splits={"train": 15_000, "test": 625}, dedup="exact")
    assert len({everything.spec(i) for i in range(len(everything))}) == 15_625


def test_from_specs_refuses_leaks():
    specs = darts.sample_specs(3, seed=0, split="id", **DIGITS)
    ok = ArchCollection.from_specs("darts", {"train": specs[:2], "test": specs[2:]})
    assert ok.split("test") == specs[2:]
    with pytest.raises(DatasetError, match="leaks"):
        ArchCollection.from_specs("darts", {"train": specs, "test": specs[:1]})


def test_bad_files_and_arguments(col, tmp_path):
    path = col.save(tmp_path / "c.jsonl")
    lines = path.read_text().splitlines()
    cases = {
        "trunc.jsonl": "\n".join(lines[:-3]) + "\n",
        "header.jsonl": "\n".join(["{}"] + lines[1:]) + "\n",
        "dup.jsonl": "\n".join(
            [lines[0].replace(f'"count": {len(col)}', f'"count": {len(col) + 1}')] + lines[1:] + [lines[1]]
        )
        + "\n",
        "fields.jsonl": "\n".join(lines[:2] + ["garbage"] + lines[3:]) + "\n",
    }
    words = {
        "trunc.jsonl": "truncated",
        "header.jsonl": "ArchCollection.save",
        "dup.jsonl": "leaks",
        "fields.jsonl": "malformed",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(DatasetError, match=words[name]):
            ArchCollection.load(tmp_path / name)
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(path.read_bytes())[:-40])
    with pytest.raises(DatasetError):
        ArchCollection.load(tmp_path / "cut.jsonl.gz")
    with pytest.raises(DatasetError, match="generate"):
        ArchCollection.load(tmp_path / "missing.jsonl")
    edited = lines[1].split("\t")
    edited[1] = "0" * len(edited[1])
    (tmp_path / "edit.jsonl").write_text("\n".join([lines[0], "\t".join(edited)] + lines[2:]) + "\n")
    with pytest.raises(DatasetError, match="hashes to"):
        ArchCollection.load(tmp_path / "edit.jsonl").verify()
    for kwargs in ({"space": "resnets"}, {"splits": {"huge": 3}}, {"splits": ["train"]}, {"dedup": "fuzzy"}):
        with pytest.raises(InvalidInputError) as info:
            ArchCollection.generate(**{"space": "darts", **kwargs})
        assert isinstance(info.value, GraphhyperError)
    header = json.loads(lines[0])
    assert header["format"] == "graphhyper.arch_collection"
