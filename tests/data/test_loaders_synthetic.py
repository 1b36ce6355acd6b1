"""Loaders on small files written here in each upstream format (for datasets not shipped in ../shared/data)."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from graphhyper.data import load_hypergraph
from graphhyper.errors import ChecksumError, DatasetError


def _write_cornell(folder, stem, labels, hyperedges):
    folder.mkdir(parents=True)
    (folder / f"node-labels-{stem}.txt").write_text("".join(f"{lab}\n" for lab in labels))
    (folder / f"hyperedges-{stem}.txt").write_text("".join(",".join(map(str, e)) + "\n" for e in hyperedges))


@pytest.mark.parametrize(
    "name,stem",
    [
        ("house", "house-committees"),
        ("senate", "senate-committees"),
        ("walmart", "walmart-trips"),
        ("congress", "congress-bills"),
    ],
)
def test_cornell_format_and_synthetic_features(tmp_path, name, stem):
    labels = [1, 2, 2, 1, 2, 1]
    _write_cornell(tmp_path / "hypergraph" / name, stem, labels, [[1, 2, 3], [3, 4], [4, 5, 6], [2, 6]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Cornell cards carry no checksum: an unverified-file warning is expected
        ds = load_hypergraph(name, root=tmp_path, feature_noise=0.0, feature_dim=5, download=False)
        noisy = load_hypergraph(name, root=tmp_path, feature_noise=0.6, download=False)
    assert ds.hg.num_nodes == 6 and ds.hg.num_edges == 4 and ds.hg.nnz == 10
    assert ds.hg.hyperedges()[0] == [0, 1, 2]  # 1-based ids shifted to 0-based
    assert torch.equal(ds.y, torch.tensor(labels) - 1) and ds.num_classes == 2
    assert ds.x.shape == (6, 5)
    assert torch.equal(ds.x[:, :2], torch.nn.functional.one_hot(ds.y, 2).float()) and not ds.x[:, 2:].any()
    assert noisy.x.shape == (6, 100)  # card default feature_dim=100 (AllSet's *-100 variants)
    resid = noisy.x[:, :2] - torch.nn.functional.one_hot(noisy.y, 2).float()
    assert 0.2 < float(resid.std()) < 1.5  # sigma 0.6 Gaussian noise on top of the one-hot label


def test_cornell_warns_that_files_are_unverified(tmp_path):
    _write_cornell(tmp_path / "hypergraph" / "senate", "senate-committees", [1, 2], [[1, 2]])
    with pytest.warns(UserWarning, match="not verified"):
        load_hypergraph("senate", root=tmp_path, download=False)


def test_cornell_bad_node_id(tmp_path):
    _write_cornell(tmp_path / "hypergraph" / "house", "house-committees", [1, 2], [[1, 7]])
    with pytest.raises(DatasetError, match="outside 1..2"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_hypergraph("house", root=tmp_path, download=False)


def _write_content_edges(folder, stem, n=12, d=4, classes=3):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(n, d))
    labels = np.arange(n) % classes
    rows = [f"{i}\t" + "\t".join(f"{v:.6f}" for v in feats[i]) + f"\t{labels[i]}.0" for i in range(n)]
    (folder / f"{stem}.content").write_text("\n".join(rows) + "\n")
    edges = [(i, n + i // 3) for i in range(n)] + [(0, n + 10), (5, n + 10)]
    (folder / f"{stem}.edges").write_text("".join(f"{a}\t{b}\n" for a, b in edges))
    return feats, labels


def test_content_edges_format_modelnet40(tmp_path):
    feats, labels = _write_content_edges(tmp_path / "hypergraph" / "modelnet40", "ModelNet40")
    with pytest.raises(ChecksumError, match="Delete .*ModelNet40.content"):
        load_hypergraph("modelnet40", root=tmp_path, download=False)  # our file is not the upstream file
    ds = load_hypergraph("modelnet40", root=tmp_path, download=False, verify=False)
    assert ds.hg.num_edges == 5 and ds.hg.nnz == 14
    assert ds.hg.hyperedges()[-1] == [0, 5]
    np.testing.assert_allclose(ds.x.numpy(), feats, atol=1e-5)
    assert torch.equal(ds.y, torch.as_tensor(labels))


def test_hypergcn_format_pubmed(tmp_path):
    folder = tmp_path / "hypergraph" / "pubmed-cc"
    (folder / "splits").mkdir(parents=True)
    x = sp.csr_matrix(np.eye(6, 3, dtype=np.float32))
    dump = {
        "features.pickle": x,
        "labels.pickle": [0, 1, 2, 0, 1, 2],
        "hypergraph.pickle": {
            np.int32(0): {np.int32(1), np.int32(2)},
            np.int32(3): {np.int32(4), np.int32(5), np.int32(0)},
        },
        **{
            f"splits/{k}.pickle": {"train": [np.int64(0), np.int64(1)], "test": [np.int64(i) for i in range(2, 6)]}
            for k in range(1, 11)
        },
    }
    for path, obj in dump.items():
        (folder / path).write_bytes(pickle.dumps(obj, protocol=2))
    ds = load_hypergraph("pubmed-cc", root=tmp_path, download=False, verify=False, split="hypergcn", val_size=1)
    assert ds.hg.hyperedges() == [[1, 2], [0, 4, 5]]
    assert ds.train_idx.tolist() == [0, 1] and ds.val_idx.numel() == 1 and ds.test_idx.numel() == 3
    assert torch.equal(ds.x, torch.eye(6, 3))


def test_missing_file_without_download_names_it(tmp_path):
    with pytest.raises(DatasetError, match="features.pickle is missing"):
        load_hypergraph("dblp-ca", root=tmp_path, download=False)
