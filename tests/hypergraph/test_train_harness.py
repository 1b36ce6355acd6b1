"""The reproduction harness end to end on Zoo (tiny), one seed, a few epochs."""

import csv
import importlib.util
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "reproduce_hypergraph_table.py"


@pytest.fixture
def harness():
    spec = importlib.util.spec_from_file_location("reproduce_hypergraph_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    before = torch.get_num_threads()
    yield module
    torch.set_num_threads(before)


def test_harness_writes_csv_and_markdown_and_resumes(harness, tmp_path, shared_data, capsys):
    out = tmp_path / "table"
    argv = ["--datasets", "zoo", "--models", "hgnn,mlp", "--seeds", "2", "--epochs", "20", "--patience", "5",
            "--out", str(out), "--set", "lr=0.01"]
    assert harness.main(argv) == 0
    rows = list(csv.DictReader(open(out.with_suffix(".csv"))))
    assert [(r["model"], r["seed"]) for r in rows] == [("hgnn", "0"), ("hgnn", "1"), ("mlp", "0"), ("mlp", "1")]
    md = out.with_suffix(".md").read_text()
    assert "| zoo | hgnn |" in md and "92.50 ± 4.58" in md  # published number beside ours
    capsys.readouterr()
    assert harness.main(argv) == 0  # second call resumes: nothing retrained
    assert "seed 0: test" not in capsys.readouterr().out
    assert len(list(csv.DictReader(open(out.with_suffix(".csv"))))) == 4
