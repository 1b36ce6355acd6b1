"""Write the tensor names and shapes of every published GHN-2 / GHN-3 layout (needs the reference checkouts).

    PYTHONPATH=/work/ref/deps:/work/ref/facebookresearch+ppuda:/work/ref/SamsungSAILMontreal+ghn3 \
        python scripts/ghn_reference_shapes.py tests/ghn/fixtures/ghn_reference_shapes.json

Each published name's reference model is built on the meta device (no memory) with the configuration the name
implies: GHN-3 as ``ghn3.from_pretrained`` infers it from a published file (ImageNet heads, max_shape
(hid, hid, 16, 16), the embeddings at the top level), GHN-2 as ppuda's training script writes it (hid 32,
max_shape (64, 64, s, s), s = 11 on CIFAR-10 and 16 on ImageNet). The output (config + name -> shape per layout)
is what the tests and scripts/bench/ghn_load_memory.py use instead of the reference code.
"""

from __future__ import annotations

import json
import sys

#: name -> (hid, transformer layers, heads); GHN-3 on ImageNet
GHN3_LAYOUTS = {"ghn3tm8": (64, 3, 8), "ghn3sm8": (128, 5, 16), "ghn3lm8": (256, 12, 16), "ghn3xlm16": (384, 24, 16)}
#: name -> (spatial size s of max_shape, classes); GHN-2, hid 32
GHN2_LAYOUTS = {"ghn2_cifar10": (11, 10), "ghn2_imagenet": (16, 1000)}


def _shapes(model) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in model.state_dict().items()}


def main(out: str) -> None:
    import torch
    from ghn3 import GHN3
    from ppuda.ghn.nn import GHN

    common = {"hypernet": "gatedgnn", "decoder": "conv", "weight_norm": True, "ve": True, "layernorm": True}
    layouts = {}
    for name, (hid, layers, heads) in GHN3_LAYOUTS.items():
        cfg = {**common, "max_shape": [hid, hid, 16, 16], "num_classes": 1000, "hid": hid, "layers": layers}
        cfg.update(heads=heads, is_ghn2=False, pretrained=True)
        with torch.device("meta"):
            layouts[name] = {"config": cfg, "tensors": _shapes(GHN3(**cfg))}
    for name, (s, classes) in GHN2_LAYOUTS.items():
        cfg = {**common, "max_shape": [64, 64, s, s], "num_classes": classes, "hid": 32}
        with torch.device("meta"):
            layouts[name] = {"config": cfg, "tensors": _shapes(GHN(**cfg))}
    for name, layout in layouts.items():
        n = sum(int(torch.Size(s).numel()) for s in layout["tensors"].values())
        print(f"{name}: {len(layout['tensors'])} tensors, {n:,} parameters")
    with open(out, "w") as f:
        json.dump(layouts, f, separators=(",", ":"), sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/ghn/fixtures/ghn_reference_shapes.json")
