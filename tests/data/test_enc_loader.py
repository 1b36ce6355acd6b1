"""ENC loaders: the real WHATsNet files (skipped when absent) and small crafted folders."""

import shutil
from functools import cache

import pytest
import torch

from graphhyper.data import get_card, load_enc_dataset, load_hypergraph
from graphhyper.data.enc import from_listed
from graphhyper.errors import ChecksumError, DatasetError, InvalidInputError

# counts from SOURCES.md: hyperedges, classes, validation and test hyperedges
SOURCES_MD = {"coauth-dblp": (91266, 3, 18253, 18254), "stack-biology": (26823, 3, 5365, 5365)}


@cache
def _load(name):
    """One read per set for this module (DBLP: about 3 s)."""
    return load_enc_dataset(name)


@pytest.mark.parametrize("name", sorted(SOURCES_MD))
def test_real_files_match_card_and_sources(name, shared_data):
    ds = _load(name)  # verifies sizes and sha256 against the card
    card = get_card(name)
    assert ds.statistics == card.statistics
    s = ds.edge_split
    assert (ds.hg.num_edges, ds.num_classes, s.val.numel(), s.test.numel()) == SOURCES_MD[name]
    assert s.train.numel() + s.val.numel() + s.test.numel() == ds.hg.num_edges
    assert not torch.isin(s.val, s.test).any() and not torch.isin(s.train, s.val).any()
    # every listed incidence points at its own (node, hyperedge) pair of the hypergraph
    assert torch.equal(ds.hg.inc_edge[ds.incidence], ds.listed_edge)
    parts = ds.incidence_split()
    assert sum(p.numel() for p in parts.__dict__.values()) == ds.num_listed


def test_dblp_first_paper(shared_data):
    ds = _load("coauth-dblp")
    assert ds.edge_names[0] == "conf/aaai/0001TZLL14"
    first = ds.listed_edge == 0
    assert ds.y[first].tolist() == [0, 1, 1, 1, 2]  # first, middle, ..., last author
    assert [ds.node_names[v] for v in ds.hg.inc_node[ds.incidence[first]].tolist()] == ["4", "5", "6", "7", "8"]


def test_corrupt_file_is_refused(shared_data, tmp_path):
    src = shared_data / "hypergraph" / "enc" / "stack-biology"
    dst = tmp_path / "hypergraph" / "enc" / "stack-biology"
    shutil.copytree(src, dst)
    (dst / "test_hindex_0.txt").chmod(0o644)
    raw = bytearray((dst / "test_hindex_0.txt").read_bytes())
    raw[0] = ord("9") if raw[0] != ord("9") else ord("8")
    (dst / "test_hindex_0.txt").write_bytes(bytes(raw))
    with pytest.raises(ChecksumError, match="sha256"):
        load_enc_dataset("stack-biology", root=tmp_path, download=False)


def test_missing_files_name_the_url(tmp_path):
    with pytest.raises(DatasetError, match="young917/EdgeDependentNodeLabel"):
        load_enc_dataset("stack-biology", root=tmp_path, download=False)


def test_node_loader_points_to_enc_loader():
    with pytest.raises(InvalidInputError, match="load_enc_dataset"):
        load_hypergraph("coauth-dblp", download=False)
    with pytest.raises(InvalidInputError, match="load_hypergraph"):
        load_enc_dataset("cora-ca", download=False)


def test_repeated_pairs_keep_both_labels():
    # hyperedge 0 lists node 1 twice with two labels; hyperedge 1 is the validation hyperedge, 2 the test one
    nodes = torch.tensor([0, 1, 1, 2, 3, 0])
    edges = torch.tensor([0, 0, 0, 1, 1, 2])
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    ds = from_listed("toy", 4, nodes, edges, labels, torch.tensor([1]), torch.tensor([2]))
    assert ds.hg.nnz == 5 and ds.num_listed == 6 and ds.statistics["repeated_incidences"] == 1
    assert ds.incidence[1] == ds.incidence[2]
    assert torch.equal(ds.hg.inc_node[ds.incidence], nodes) and torch.equal(ds.hg.inc_edge[ds.incidence], edges)
    parts = ds.incidence_split()
    assert parts.train.tolist() == [0, 1, 2] and parts.val.tolist() == [3, 4] and parts.test.tolist() == [5]
