#!/usr/bin/python3
"""Generates the small ONNX test models in test/onnx/models/ and PyTorch's float64 outputs beside them.

Run with Debian's python3-torch / python3-torchvision (apt-get install -y python3-torch python3-torchvision):
    /usr/bin/python3 test/onnx/gen.py
The tests never run Python: they read the committed files. Widths and resolutions are shrunk so every file
stays small; weights are random (seeded) and batch-norm statistics are randomized, because a fresh model's
running_mean = 0 / running_var = 1 makes the folded batch-norm an identity that would hide folding bugs.

Per model NAME it writes NAME.onnx (float32 weights, as torch.onnx.export writes them), NAME.json (input and
output names and shapes, the opset), NAME.in.f32 (the input, raw little-endian float32) and NAME.out.f64
(PyTorch's output for that input computed in float64 from the same float32 weights, raw little-endian).
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models import densenet, efficientnet, mnasnet, regnet, resnet, shufflenetv2, squeezenet, vgg
from torchvision.models.segmentation import deeplabv3
from torchvision.ops.misc import Conv2dNormActivation

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'models')


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.3)
    return model.eval()


def tiny_resnet(block, widths, layers, groups=1, base_width=64, classes=10):
    m = resnet.ResNet(block, [1, 1, 1, 1], num_classes=classes, groups=groups, width_per_group=base_width)
    m.inplanes = widths[0]
    m.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
    m.bn1 = nn.BatchNorm2d(widths[0])
    m.layer1 = m._make_layer(block, widths[0], layers[0])
    m.layer2 = m._make_layer(block, widths[1], layers[1], stride=2)
    m.layer3 = m._make_layer(block, widths[2], layers[2], stride=2)
    m.layer4 = m._make_layer(block, widths[3], layers[3], stride=2)
    m.fc = nn.Linear(widths[3] * block.expansion, classes)
    return m


def tiny_mobilenet_v2():
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 2, 2], [6, 64, 1, 2], [6, 96, 1, 1]]
    m = torchvision.models.mobilenet_v2(num_classes=10, width_mult=0.5, inverted_residual_setting=setting)
    last_in = m.features[-1][0].in_channels
    m.features[-1] = Conv2dNormActivation(last_in, 96, kernel_size=1, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU6)
    m.classifier[1] = nn.Linear(96, 10)
    return m


def tiny_squeezenet():
    m = torchvision.models.squeezenet1_1(num_classes=10)
    Fire = squeezenet.Fire
    m.features = nn.Sequential(
        nn.Conv2d(3, 16, kernel_size=3, stride=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(16, 4, 8, 8), Fire(16, 4, 8, 8),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(16, 8, 16, 16), Fire(32, 8, 16, 16),
        nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
        Fire(32, 8, 24, 24), Fire(48, 12, 32, 32))
    m.classifier[1] = nn.Conv2d(64, 10, kernel_size=1)
    return m


def tiny_mobilenet_v3():
    # Hardswish, Hardsigmoid, squeeze-excitation (GlobalAveragePool + Mul broadcasting).
    return torchvision.models.mobilenet_v3_small(num_classes=10, width_mult=0.25, reduced_tail=True)


def tiny_shufflenet():
    # Channel shuffle: Reshape/Transpose/Reshape; chunk: Split (or Slice); Concat.
    return shufflenetv2.ShuffleNetV2([2, 2, 1], [8, 16, 32, 48, 64], num_classes=10)


def tiny_densenet():
    return densenet.DenseNet(growth_rate=4, block_config=(2, 2, 2, 2), num_init_features=8, bn_size=2, num_classes=10)


def tiny_efficientnet():
    # SiLU (Sigmoid * Mul), squeeze-excitation, stochastic depth (identity in eval).
    setting, last = efficientnet._efficientnet_conf('efficientnet_b0', width_mult=0.25, depth_mult=0.25)
    return efficientnet.EfficientNet(setting, dropout=0.2, num_classes=10, last_channel=64)


def tiny_regnet():
    # Grouped 3x3 convs with squeeze-excitation.
    params = regnet.BlockParams.from_init_params(depth=4, w_0=8, w_a=8, w_m=2, group_width=4, se_ratio=0.25)
    return regnet.RegNet(params, num_classes=10, stem_width=8)


def tiny_mnasnet():
    m = mnasnet.MNASNet(alpha=0.25, num_classes=10)
    # The 1280-channel head would be most of the file: 64 channels instead.
    i = next(i for i, l in enumerate(m.layers) if isinstance(l, nn.Conv2d) and l.out_channels == 1280)
    m.layers[i] = nn.Conv2d(m.layers[i].in_channels, 64, 1, bias=False)
    m.layers[i + 1] = nn.BatchNorm2d(64)
    m.classifier[1] = nn.Linear(64, 10)
    return m


def tiny_vgg():
    # Adaptive average pooling to 7x7 over a 7x7 map, as VGG at 224.
    m = vgg.VGG(vgg.make_layers([8, 'M', 16, 'M', 24, 24, 'M', 32, 'M'], batch_norm=True), num_classes=10)
    m.classifier = nn.Sequential(nn.Linear(32 * 7 * 7, 32), nn.ReLU(True), nn.Dropout(), nn.Linear(32, 10))
    return m


class TinyDeepLab(nn.Module):
    """A dilated ResNet backbone, an ASPP head (dilated convs, image pooling, bilinear upsampling of the
    pooled branch) and a bilinear upsampling of the logits to the input size, as torchvision's DeepLabV3."""

    def __init__(self):
        super().__init__()
        r = tiny_resnet(resnet.BasicBlock, [8, 16, 16, 16], [1, 1, 1, 1])
        r.layer3 = nn.Sequential(resnet.Bottleneck(16, 4, dilation=2), resnet.Bottleneck(16, 4, dilation=2))
        r.layer4 = nn.Sequential(resnet.Bottleneck(16, 4, dilation=4))
        self.backbone = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2, r.layer3, r.layer4)
        self.head = deeplabv3.DeepLabHead(16, 5)
        self.head[0] = deeplabv3.ASPP(16, [2, 4, 6], out_channels=8)
        self.head[1] = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.head[2] = nn.BatchNorm2d(8)
        self.head[4] = nn.Conv2d(8, 5, 1)

    def forward(self, x):
        y = self.head(self.backbone(x))
        return F.interpolate(y, size=x.shape[-2:], mode='bilinear', align_corners=False)


class Audio1d(nn.Module):
    """A small 1-D audio CNN: strided, dilated, grouped and padded Conv1d, BatchNorm1d, pools, a mean, softmax."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(1, 8, 9, stride=4, padding=4)
        self.b1 = nn.BatchNorm1d(8)
        self.p1 = nn.MaxPool1d(3, stride=2, padding=1)
        self.c2 = nn.Conv1d(8, 16, 5, padding=4, dilation=2)
        self.b2 = nn.BatchNorm1d(16)
        self.c3 = nn.Conv1d(16, 16, 3, padding=1, groups=4, bias=False)
        self.b3 = nn.BatchNorm1d(16)
        self.p2 = nn.AvgPool1d(4, stride=2, ceil_mode=True, count_include_pad=False, padding=1)
        self.c4 = nn.Conv1d(16, 24, 3)
        self.fc = nn.Linear(24, 6)

    def forward(self, x):
        x = self.p1(F.relu(self.b1(self.c1(x))))
        x = F.leaky_relu(self.b2(self.c2(x)), 0.1)
        x = x + F.relu(self.b3(self.c3(x)))
        x = self.p2(x)
        x = torch.sigmoid(self.c4(x)) * x[:, :, 1:-1].mean(dim=1, keepdim=True)
        x = x.mean(dim=2)
        return F.softmax(self.fc(x), dim=1)


class Misc(nn.Module):
    """The ops the classification nets above do not export: transposed conv, resize, pad, split, slice,
    transpose, reshape, matmul, sub/div, average pools with and without padding counted, dilation, clip."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=(1, 2), dilation=(1, 2))
        self.b1 = nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2)
        self.up = nn.ConvTranspose2d(8, 6, 4, stride=2, padding=1, output_padding=0)
        self.c3 = nn.Conv2d(6, 6, 3, padding=1, groups=6)
        self.c4 = nn.Conv2d(6, 4, 1)
        self.w = nn.Parameter(torch.randn(4, 5) * 0.5)

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        a, b = torch.split(y, [4, 4], dim=1)
        z = self.c2(a * torch.sigmoid(b))
        u = F.relu(self.up(z))
        u = F.hardtanh(u, -0.5, 2.0)
        u = F.pad(u, (3, 0, 2, 1))
        u = self.c3(u)[:, :, 1:, ::2]                # 16x9
        # Scales whose multiples miss the integers: PyTorch multiplies by 1/scale where ONNX divides by the
        # scale, so an exact integer source coordinate may round either way.
        v = F.interpolate(z[:, :6], scale_factor=(2.3, 1.3), mode='nearest')          # 7x7 -> 16x9
        w = F.interpolate(z[:, 2:], size=(16, 9), mode='bilinear', align_corners=False)
        u = torch.cat([u - v, w[:, :6] / 2.0], dim=1)
        p = F.avg_pool2d(u, 3, stride=2, padding=1, count_include_pad=True)
        q = F.avg_pool2d(u, 3, stride=2, padding=1, count_include_pad=False, ceil_mode=True)
        s = self.c4(p[:, :6] + q[:, 6:, :p.shape[2], :p.shape[3]] + F.max_pool2d(u[:, 3:9], 2, stride=2, ceil_mode=True))
        t = s.flatten(2).transpose(1, 2)            # [N, HW, 4]
        t = torch.matmul(t, self.w)                 # [N, HW, 5]
        t = t.reshape(t.shape[0], -1, 5).permute(0, 2, 1)
        return torch.softmax(t, dim=-1), torch.sigmoid(s)


def export(name, model, shape, opset=13, dynamic_batch=False, seed=0, fold=True):
    torch.manual_seed(seed)
    model = randomize(model, seed + 1)
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed + 2))
    path = os.path.join(OUT, name + '.onnx')
    out_names = ['output'] if not isinstance(model, Misc) else ['output', 'gate']
    axes = {'input': {0: 'batch'}, **{n: {0: 'batch'} for n in out_names}} if dynamic_batch else None
    with torch.no_grad():
        torch.onnx.export(model, x, path, opset_version=opset, input_names=['input'], output_names=out_names,
                          dynamic_axes=axes, do_constant_folding=fold,
                          training=torch.onnx.TrainingMode.EVAL if fold else torch.onnx.TrainingMode.PRESERVE)
        ys = model.double()(x.double())
    ys = ys if isinstance(ys, tuple) else (ys,)
    meta = {'opset': opset, 'dynamicBatch': dynamic_batch,
            'inputs': [{'name': 'input', 'shape': list(shape)}],
            'outputs': [{'name': n, 'shape': list(y.shape)} for n, y in zip(out_names, ys)]}
    with open(os.path.join(OUT, name + '.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    x.numpy().astype('<f4').tofile(os.path.join(OUT, name + '.in.f32'))
    torch.cat([y.flatten() for y in ys]).numpy().astype('<f8').tofile(os.path.join(OUT, name + '.out.f64'))
    print(f'{name}: {os.path.getsize(path)} bytes, outputs {[list(y.shape) for y in ys]}', file=sys.stderr)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    basic = lambda: tiny_resnet(resnet.BasicBlock, [8, 16, 24, 32], [2, 1, 1, 1])
    export('resnet_basic', basic(), (1, 3, 48, 48), seed=10)
    # Without torch's folding (PRESERVE skips its eval-mode conv+batch-norm fusion): BatchNormalization nodes,
    # Dropout and the shape subgraphs stay in the file for the runner to fold.
    export('resnet_basic_op11', basic(), (1, 3, 40, 40), opset=11, seed=11, fold=False)
    export('resnet_basic_op17', basic(), (1, 3, 40, 40), opset=17, seed=12)
    export('resnext_bottleneck', tiny_resnet(resnet.Bottleneck, [8, 12, 16, 16], [1, 1, 1, 1], groups=4, base_width=16),
           (2, 3, 40, 40), dynamic_batch=True, seed=20)
    export('mobilenet_v2', tiny_mobilenet_v2(), (1, 3, 40, 40), seed=30, fold=False)
    export('mobilenet_v3', tiny_mobilenet_v3(), (1, 3, 48, 48), opset=17, seed=40)   # HardSwish is an op from opset 14
    export('squeezenet', tiny_squeezenet(), (1, 3, 47, 47), seed=50)
    export('audio1d', Audio1d(), (2, 1, 400), dynamic_batch=True, seed=60)
    export('misc', Misc(), (1, 3, 13, 14), seed=70)
    export('shufflenet_v2', tiny_shufflenet(), (1, 3, 48, 48), seed=80)
    export('densenet', tiny_densenet(), (1, 3, 40, 40), seed=90, opset=11)
    export('efficientnet', tiny_efficientnet(), (1, 3, 40, 40), seed=100)
    export('regnet', tiny_regnet(), (1, 3, 40, 40), seed=110)
    export('mnasnet', tiny_mnasnet(), (1, 3, 40, 40), seed=120, opset=17)
    export('vgg', tiny_vgg(), (1, 3, 112, 112), seed=130, fold=False)
    export('deeplab', TinyDeepLab(), (1, 3, 33, 41), seed=140)


if __name__ == '__main__':
    main()
