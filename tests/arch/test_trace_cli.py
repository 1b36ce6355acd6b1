"""`graphhyper arch inspect`."""

from __future__ import annotations

import json

import pytest

from graphhyper.cli import main

pytest.importorskip("torchvision")


def test_inspect_torchvision_text(capsys):
    assert main(["arch", "inspect", "torchvision:resnet18", "--input-shape", "1,3,64,64"]) == 0
    out = capsys.readouterr().out
    assert "nodes: 71" in out and "params: 11,689,512" in out and "trace path: fx" in out
    assert "unknown ops: 0" in out and "conv=20" in out


def test_inspect_factory_json(capsys):
    assert main(["arch", "inspect", "torchvision.models:mobilenet_v3_small", "--json", "--graph"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["trace_path"] == "fx" and report["unknown_ops"] == [] and report["unmapped_parameters"] == []
    assert report["params"] == 2542856 and report["ops"]["conv"] == 52
    assert len(report["graph"]["nodes"]) == report["nodes"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["torchvision:not_a_model"], "has no model"),
        (["no_such_pkg_xyz:f"], "cannot import"),
        (["resnet18"], "must be"),
        (["torchvision:resnet18", "--input-shape", "1,x"], "--input-shape"),
        (["torchvision:resnet18", "--input-shape", "1,1,32,32"], "conv1"),
    ],
)
def test_inspect_bad_input(capsys, argv, message):
    assert main(["arch", "inspect", *argv]) == 1
    assert message in capsys.readouterr().err
