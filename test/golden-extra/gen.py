#!/usr/bin/python3
"""Writes PyTorch reference vectors for transposed convolution, pooling (forward and backward) and
unbatched (single-sample) convolutions as JSON beside this script. Run with Debian's python3-torch:
/usr/bin/python3 test/golden-extra/gen.py.
Inputs are float32 values; PyTorch evaluates in float64 and the results are rounded once to float32.
Tensors are base64 little-endian float32 (indices: int32), C-order, like test/golden."""
import base64, json, os
import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def b64(t, dtype=np.float32):
    return base64.b64encode(np.ascontiguousarray(t.detach().cpu().numpy().astype(dtype)).tobytes()).decode()


def rand(gen, shape):
    # float32-representable values in [-1, 1)
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1).float().double()


def conv_transpose(name, dims, seed, N, C, K, size, kernel, stride=1, padding=0, output_padding=0, dilation=1, groups=1, bias=True):
    g = torch.Generator().manual_seed(seed)
    x = rand(g, [N, C, *size])
    w = rand(g, [C, K // groups, *kernel])
    b = rand(g, [K]) if bias else None
    fn = F.conv_transpose2d if dims == 2 else F.conv_transpose1d
    y = fn(x, w, b, stride=stride, padding=padding, output_padding=output_padding, groups=groups, dilation=dilation)
    per = lambda v: list(v) if isinstance(v, (tuple, list)) else [v] * dims
    return dict(name=name, op=f'conv_transpose{dims}d', input=b64(x), input_shape=list(x.shape), weight=b64(w),
                weight_shape=list(w.shape), bias=b64(b) if bias else None, stride=per(stride), padding=per(padding),
                output_padding=per(output_padding), dilation=per(dilation), groups=groups, output=b64(y),
                output_shape=list(y.shape), seed=seed)


def pool(name, kind, seed, shape, kernel, stride=None, padding=0, dilation=1, ceil_mode=False, count_include_pad=True, nan=False):
    g = torch.Generator().manual_seed(seed)
    x = rand(g, shape)
    if nan:
        flat = x.view(-1)
        flat[torch.randint(0, flat.numel(), (max(1, flat.numel() // 20),), generator=g)] = float('nan')
        flat[1] = float('-inf')
    x.requires_grad_(True)
    if kind == 'max':
        y, idx = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True)
    else:
        y = F.avg_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    gy = rand(g, list(y.shape))
    y.backward(gy)
    pair = lambda v: list(v) if isinstance(v, (tuple, list)) else [v, v]
    case = dict(name=name, op=f'{kind}_pool2d', input=b64(x), input_shape=list(x.shape), kernel_size=pair(kernel),
                stride=pair(stride if stride is not None else kernel), padding=pair(padding), ceil_mode=ceil_mode,
                output=b64(y), output_shape=list(y.shape), grad_output=b64(gy), grad_input=b64(x.grad), seed=seed)
    if kind == 'max':
        case.update(dilation=pair(dilation), indices=b64(idx, np.int32))
    else:
        case.update(count_include_pad=count_include_pad)
    return case


def unbatched(name, op, seed, C, K, size, kernel, groups=1, **kw):
    """One sample without the batch dimension, as PyTorch's functional convolutions accept it."""
    g = torch.Generator().manual_seed(seed)
    x = rand(g, [C, *size]).requires_grad_(True)
    transposed = op.startswith('conv_transpose')
    w = rand(g, [C, K // groups, *kernel] if transposed else [K, C // groups, *kernel]).requires_grad_(True)
    b = rand(g, [K]).requires_grad_(True)
    y = getattr(F, op)(x, w, b, groups=groups, **kw)
    case = dict(name=name, op=f'unbatched_{op}', input=b64(x), input_shape=list(x.shape), weight=b64(w),
                weight_shape=list(w.shape), bias=b64(b), options=dict(kw, groups=groups), output=b64(y),
                output_shape=list(y.shape), seed=seed)
    if not transposed:
        gy = rand(g, list(y.shape))
        y.backward(gy)
        case.update(grad_output=b64(gy), grad_input=b64(x.grad), grad_weight=b64(w.grad), grad_bias=b64(b.grad))
    return case


CASES = [
    conv_transpose('ct2d_k3_s1', 2, 1, 2, 4, 5, [6, 7], [3, 3]),
    conv_transpose('ct2d_k3_s2_p1_op1', 2, 2, 1, 3, 4, [5, 5], [3, 3], stride=2, padding=1, output_padding=1),
    conv_transpose('ct2d_k4_s2_p1', 2, 3, 2, 6, 3, [4, 6], [4, 4], stride=2, padding=1, bias=False),
    conv_transpose('ct2d_k3_s3_d2_op2', 2, 4, 1, 2, 3, [4, 3], [3, 2], stride=[3, 2], padding=[2, 1], output_padding=[2, 1], dilation=[2, 3]),
    conv_transpose('ct2d_groups2', 2, 5, 2, 4, 6, [5, 4], [3, 3], stride=2, padding=1, groups=2),
    conv_transpose('ct2d_depthwise', 2, 6, 1, 6, 6, [7, 7], [5, 5], stride=1, padding=2, groups=6),
    conv_transpose('ct2d_pad_gt_kernel', 2, 7, 1, 3, 2, [6, 6], [2, 2], stride=3, padding=3, output_padding=2),
    conv_transpose('ct2d_dil_op_gt_stride', 2, 8, 1, 2, 2, [4, 4], [3, 3], stride=1, padding=1, output_padding=1, dilation=2),
    conv_transpose('ct1d_k5_s2_p2_op1', 1, 9, 2, 8, 4, [11], [5], stride=2, padding=2, output_padding=1),
    conv_transpose('ct1d_groups4_d3', 1, 10, 1, 8, 12, [9], [3], stride=3, padding=1, dilation=3, groups=4),
    pool('max_k2', 'max', 11, [2, 3, 8, 8], 2),
    pool('max_k3_s2_p1', 'max', 12, [1, 4, 9, 10], 3, 2, 1),
    pool('max_k3_s2_ceil', 'max', 13, [1, 2, 10, 11], 3, 2, 0, ceil_mode=True),
    pool('max_k3_s2_p1_ceil', 'max', 14, [2, 2, 8, 7], 3, 2, 1, ceil_mode=True),
    pool('max_k3_d2_p1', 'max', 15, [1, 3, 11, 9], 3, 1, 1, dilation=2),
    pool('max_k2x3_s1x2_d2x1', 'max', 16, [1, 2, 7, 9], [2, 3], [1, 2], [1, 1], dilation=[2, 1], ceil_mode=True),
    pool('max_nan', 'max', 17, [1, 3, 8, 8], 2, nan=True),
    pool('max_nan_overlap', 'max', 18, [1, 2, 9, 9], 3, 2, 1, nan=True),
    pool('max_chw', 'max', 19, [3, 6, 6], 2),
    pool('avg_k2', 'avg', 20, [2, 3, 8, 8], 2),
    pool('avg_k3_s2_p1_incl', 'avg', 21, [1, 4, 9, 10], 3, 2, 1),
    pool('avg_k3_s2_p1_excl', 'avg', 22, [1, 4, 9, 10], 3, 2, 1, count_include_pad=False),
    pool('avg_k3_s2_p1_ceil_incl', 'avg', 23, [2, 2, 8, 7], 3, 2, 1, ceil_mode=True),
    pool('avg_k3_s2_p1_ceil_excl', 'avg', 24, [2, 2, 8, 7], 3, 2, 1, ceil_mode=True, count_include_pad=False),
    pool('avg_k2_s3_ceil', 'avg', 25, [1, 2, 10, 10], 2, 3, 0, ceil_mode=True),
    pool('avg_k4x2_s2x1_p2x1', 'avg', 26, [1, 3, 9, 6], [4, 2], [2, 1], [2, 1], ceil_mode=True, count_include_pad=False),
    unbatched('unbatched_c2d_k3_p1', 'conv2d', 27, 5, 6, [9, 11], [3, 3], padding=1),
    unbatched('unbatched_c2d_k4_same_d2', 'conv2d', 28, 4, 4, [10, 7], [4, 3], padding='same', dilation=[2, 1]),
    unbatched('unbatched_c2d_s2_groups2', 'conv2d', 29, 6, 4, [13, 12], [5, 3], stride=[2, 3], padding=[2, 1], groups=2),
    unbatched('unbatched_c2d_depthwise', 'conv2d', 30, 8, 8, [12, 12], [3, 3], padding=1, groups=8),
    unbatched('unbatched_c1d_k5_same', 'conv1d', 31, 7, 5, [33], [5], padding='same'),
    unbatched('unbatched_c1d_s3_d2', 'conv1d', 32, 4, 6, [40], [4], stride=3, dilation=2, padding=3),
    unbatched('unbatched_ct2d_s2_p1_op1', 'conv_transpose2d', 33, 3, 4, [5, 6], [3, 3], stride=2, padding=1, output_padding=1),
    unbatched('unbatched_ct1d_k5_s2', 'conv_transpose1d', 34, 4, 6, [9], [5], stride=2, padding=2, groups=2),
]

if __name__ == '__main__':
    torch.set_default_dtype(torch.float64)
    for c in CASES:
        c['generator'] = f'PyTorch {torch.__version__} float64, rounded to float32'
        with open(os.path.join(HERE, c['name'] + '.json'), 'w') as f:
            json.dump(c, f)
    print(f'wrote {len(CASES)} cases to {HERE}')
