"""Check graphhyper's published-checkpoint loader against the reference code (needs the reference checkouts).

    PYTHONPATH=/work/ref/deps:/work/ref/facebookresearch+ppuda:/work/ref/SamsungSAILMontreal+ghn3 \
        python scripts/oracle_ghn_published_files.py [--dir /tmp/ghn-oracle] [--names ghn3tm8,ghn2_cifar10]

For each name, builds the reference model of that layout with random weights (seeded), writes it the way the
published file was written (GHN-3: ``joblib.dump(state_dict)``; GHN-2: ``torch.save({'state_dict', 'config',
'epoch', 'optimzer'})``), then checks that

* ``load_published`` gives the same tensors and the family the reference infers (``'gnn.gru.'`` in a key);
* the reference model loads that state dict strictly (``load_state_dict``; GHN-3 after ``fix_embed_layers`` is
  undone, i.e. built with ``pretrained=True`` as the reference's ``from_pretrained`` does);
* the reference's own readers accept the file we wrote (GHN-3: ``joblib.load``, what ``ghn3.from_pretrained``
  calls on the downloaded file; GHN-2: ppuda's ``GHN.load``), so the synthetic files are in the published format;
* our converted safetensors load back to identical tensors.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "ghn" / "fixtures" / "ghn_reference_shapes.json"


def reference_model(name: str, config: dict):
    if name.startswith("ghn3"):
        from ghn3 import GHN3

        return GHN3(**{**config, "max_shape": tuple(config["max_shape"])})
    from ppuda.ghn.nn import GHN

    return GHN(**{**config, "max_shape": tuple(config["max_shape"])})


def check(name: str, work: Path) -> None:
    import joblib

    from graphhyper.ghn.reference.published import convert, load_converted, load_published

    config = json.loads(FIXTURE.read_text())[name]["config"]
    torch.manual_seed(0)
    model = reference_model(name, config)
    state = model.state_dict()
    path = work / f"{name}.pt"
    if name.startswith("ghn3"):
        joblib.dump(state, path)
    else:
        torch.save(
            {"state_dict": state, "optimzer": {"state": {}, "param_groups": []}, "epoch": 1, "config": config}, path
        )
    if name.startswith("ghn3"):
        theirs = joblib.load(path)
    else:
        from ppuda.ghn.nn import GHN

        theirs = GHN.load(str(path), debug_level=0, device="cpu").state_dict()
    assert all(torch.equal(theirs[k], v) for k, v in state.items()), "the reference reader disagrees"
    ckpt = load_published(path)
    same = list(ckpt.state_dict) == list(state) and all(torch.equal(ckpt.state_dict[k], v) for k, v in state.items())
    is_ghn2 = any("gnn.gru." in k for k in state)
    fresh = reference_model(name, config)
    fresh.load_state_dict(ckpt.state_dict, strict=True)
    convert(path, work / f"{name}-conv", overwrite=True)
    back = load_converted(work / f"{name}-conv").state_dict
    same_conv = all(torch.equal(back[k], v) for k, v in state.items()) and len(back) == len(state)
    print(
        f"{name}: {len(state)} tensors, identical {same}, family {ckpt.family} (reference: "
        f"{'ghn2' if is_ghn2 else 'ghn3'}), config {ckpt.config is not None}, strict load into the reference ok, "
        f"reference reader ok, converted identical {same_conv}"
    )
    assert same and same_conv and ckpt.family == ("ghn2" if is_ghn2 else "ghn3")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", default=None)
    parser.add_argument("--names", default="ghn3tm8,ghn3sm8,ghn2_cifar10,ghn2_imagenet")
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = Path(args.dir or tempfile.mkdtemp(prefix="ghn-oracle-"))
    work.mkdir(parents=True, exist_ok=True)
    for name in args.names.split(","):
        check(name, work)


if __name__ == "__main__":
    main()
