#!/usr/bin/python3
"""Exports full-size torchvision CNNs (random weights, randomized batch-norm statistics) for bench/onnx.ts.

    /usr/bin/python3 test/onnx/export_full.py [DIR] [MODEL ...]     (default DIR /tmp/fastconv-onnx-models,
                                                                    default models resnet18 mobilenet_v2)
Needs Debian's python3-torch and python3-torchvision. The files are large (ResNet-18: 45 MB), so they go
to a cache directory outside the repository. Each NAME.onnx (batch 1, 3x224x224, opset 13) comes with
NAME.in.f32, a fixed random input, for the bench's output check.
"""
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen import randomize  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else '/tmp/fastconv-onnx-models'
    names = sys.argv[2:] or ['resnet18', 'mobilenet_v2']
    os.makedirs(out, exist_ok=True)
    for i, name in enumerate(names):
        torch.manual_seed(i)
        model = randomize(getattr(torchvision.models, name)(), 100 + i)
        x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(200 + i))
        path = os.path.join(out, name + '.onnx')
        with torch.no_grad():
            torch.onnx.export(model, x, path, opset_version=13, input_names=['input'], output_names=['output'])
        x.numpy().astype('<f4').tofile(os.path.join(out, name + '.in.f32'))
        print(f'{path}: {os.path.getsize(path) / 1e6:.1f} MB', file=sys.stderr)


if __name__ == '__main__':
    main()
