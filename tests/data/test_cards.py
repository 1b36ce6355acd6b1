import configparser
import fnmatch
import json
from pathlib import Path

import pytest

from graphhyper.data import get_card, list_datasets
from graphhyper.data.cards import CARD_DIR
from graphhyper.errors import DatasetError

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    "cora-ca",
    "cora-cc",
    "citeseer-cc",
    "pubmed-cc",
    "dblp-ca",
    "zoo",
    "ntu2012",
    "mushroom",
    "20news",
    "modelnet40",
    "house",
    "walmart",
    "senate",
    "congress",
    "coauth-dblp",
    "stack-biology",
}


def test_every_dataset_has_a_card():
    assert set(list_datasets()) == EXPECTED


def test_cards_are_package_data():
    # the wheel ships graphhyper/data/cards/*.json: the folder must resolve to the canonical cards in datasets/
    assert CARD_DIR.resolve() == (ROOT / "datasets").resolve()
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    patterns = cfg["options.package_data"]["graphhyper.data"].split(",")
    shipped = [
        p for p in CARD_DIR.glob("*") if any(fnmatch.fnmatch(f"cards/{p.name}", pat.strip()) for pat in patterns)
    ]
    assert len(shipped) == len(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_card_content(name):
    card = get_card(name)
    raw = json.loads((CARD_DIR / f"{name}.json").read_text())
    assert raw["license"] and raw["source"]["repository"].startswith("https://")
    assert card.files, "a card lists its raw files"
    for entry in card.files:
        assert len(entry.urls) >= 2, f"{entry.path}: primary URL and a mirror"
        assert all(u.startswith("https://") for u in entry.urls)
        if card.format != "cornell":
            assert entry.sha256 or entry.git_sha1, f"{entry.path} has no checksum"
        if entry.sha256:
            assert len(entry.sha256) == 64 and entry.bytes > 0
    for key in ("nodes", "hyperedges", "classes"):
        assert card.statistics[key] > 0
    if card.format == "enc":  # ENC numbers wait for a check against the papers; the card says so
        assert "papers" in raw["published_note"]
    else:
        assert card.published, "published results with protocol"
    for row in card.published:
        assert row["protocol"] and row["source"] and 0 < row["mean"] <= 100


def test_lookup_is_forgiving_but_unknown_names_fail():
    assert get_card("Cora_CA").name == "cora-ca"
    assert get_card("pubmed").name == "pubmed-cc"
    assert get_card("cora-ca").published_for("allset-transformer")["mean"] == pytest.approx(83.63)
    with pytest.raises(DatasetError, match="Known datasets"):
        get_card("not-a-dataset")
