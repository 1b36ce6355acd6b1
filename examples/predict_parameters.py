"""Predict parameters with the bundled GHN: a torchvision model, then held-out digits DARTS nets vs random init.

Usage: python examples/predict_parameters.py [--model resnet18] [--archs 2]
"""

import argparse
import time

import torch
import torchvision

from graphhyper import ghn
from graphhyper.arch.spaces import darts
from graphhyper.ghn.evaluate import accuracy, build_net
from graphhyper.ghn.tasks import arch_specs, get_task

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="resnet18", help="any name of torchvision.models.list_models()")
parser.add_argument("--archs", type=int, default=2, help="held-out digits architectures to evaluate")
args = parser.parse_args()
torch.set_num_threads(2)

model = ghn.from_pretrained()  # the bundled default (ghn-tiny-tiled): no download
net = torchvision.models.get_model(args.model)
t0 = time.perf_counter()
params = model.apply(net, strict=False, input_shape=(1, 3, 224, 224))  # predict, then write into `net`
n = sum(p.numel() for p in params.values())
print(
    f"{args.model}: predicted {len(params)} tensors ({n:,} parameters) in {time.perf_counter() - t0:.2f} s; "
    f"unpredicted: {list(params.unpredicted) or 'none'}"
)

task = get_task("digits")  # scikit-learn's 8x8 digits
for i, spec in enumerate(arch_specs(task, "id", n=args.archs, seed=0)):  # never seen in GHN training
    net = build_net(spec, seed=i)
    with torch.no_grad():
        pred = model.predict(darts.spec_to_graph(spec))
    acc_ghn = 100 * accuracy(net, task, pred)  # functional_call with the predicted parameters
    acc_rand = 100 * accuracy(net, task)  # the same net with PyTorch's default init
    print(f"digits arch {i}: GHN-predicted accuracy {acc_ghn:.1f}% vs random init {acc_rand:.1f}%")
