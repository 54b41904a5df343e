#!/usr/bin/env python3
"""The shared PyTorch timer (bench_torch.py) on this checkout's layer suite.

bench_torch.py carries its own copy of the 12 original layers and times backward on L2 and L6
only. This wrapper loads it unchanged, replaces its layer list with bench/layers.json (so rows
added to the suite, such as the batch-8 and channels-last ones, are timed too), its backward list
with the bench's --backward default (bench/backward.ts BACKWARD_LAYERS), and calls channels-last
rows with channels_last tensors (PyTorch's NHWC path through oneDNN). Flags are bench_torch.py's:

    /usr/bin/python3 bench/peers/torch_suite.py --threads 1 --procs 3 --thp on --json torch.json

BENCH_TORCH (environment) points at bench_torch.py; default /work/shared/peers/bench_torch.py.
"""
import importlib.util
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("BENCH_TORCH", "/work/shared/peers/bench_torch.py")
SUITE = os.path.join(HERE, "..", "layers.json")
BACKWARD_TS = os.path.join(HERE, "..", "backward.ts")


def load_timer():
    spec = importlib.util.spec_from_file_location("bench_torch", SHARED)
    bt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bt)
    # bench_torch.py spawns its measurement children as `python <its __file__> --child ...`:
    # pointing __file__ here makes the children load this wrapper and so the same layer list.
    bt.__file__ = os.path.abspath(__file__)
    return bt


def suite_layers():
    with open(SUITE) as f:
        specs = json.load(f)["layers"]
    rows, nhwc = [], set()
    for L in specs:
        nd = 1 if L["op"] == "conv1d" else 2
        N, C, *sp = L["input"]
        rows.append((L["id"], L["name"], N, C, tuple(sp), L["out_channels"], tuple(L["kernel"]),
                     L["stride"], L["padding"], L["dilation"], L["groups"]))
        if L.get("layout") == "NHWC":
            if nd != 2:
                raise SystemExit(f"{L['id']}: layout NHWC applies to conv2d layers")
            nhwc.add(L["id"])
    return rows, nhwc


def backward_layers():
    # One list, the bench's: read from bench/backward.ts rather than restated here.
    with open(BACKWARD_TS) as f:
        m = re.search(r"BACKWARD_LAYERS\s*=\s*\[([^\]]*)\]", f.read())
    if not m:
        raise SystemExit(f"{BACKWARD_TS}: no BACKWARD_LAYERS list")
    return re.findall(r"'([^']+)'", m.group(1))


def main():
    bt = load_timer()
    layers, nhwc = suite_layers()
    bt.LAYERS = layers
    bt.BWD_LAYERS = backward_layers()
    plain = bt.make_tensors

    def make_tensors(L, seed=0):
        x, w = plain(L, seed)
        if L[0] in nhwc:
            import torch
            x = x.contiguous(memory_format=torch.channels_last)
            w = w.contiguous(memory_format=torch.channels_last)
        return x, w

    bt.make_tensors = make_tensors
    bt.main()


if __name__ == "__main__":
    sys.exit(main())
