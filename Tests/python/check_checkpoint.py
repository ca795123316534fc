#!/usr/bin/env python3
"""Opens checkpoints of the default model as a PyTorch user would (safetensors + numpy).

    check_checkpoint.py DISTCONV CHECKPOINT [CHECKPOINT ...]

For the first checkpoint: every tensor's name, shape and dtype is the state_dict of
PyTorch's version of the model (bench/pytorch/fashion_cnn.py: conv1, conv2, fc), and its
values agree with what `distconv checkpoint` reports (mean and largest magnitude). Every
further checkpoint (the same run on another rank count) holds the same global tensors to
float rounding. When torch is installed, the model also loads with strict=True and runs.
Prints one line per failure and exits 1 if there was any.
"""
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file

EXPECTED = {
    "conv1.weight": (16, 1, 3, 3), "conv1.bias": (16,),
    "conv2.weight": (32, 16, 3, 3), "conv2.bias": (32,),
    "fc.weight": (10, 1568), "fc.bias": (10,),
}
failures = []


def fail(message):
    failures.append(message)
    print("FAIL " + message)


def reported(distconv, folder):
    """distconv checkpoint's lines: name -> (dtype, shape, mean, absmax)."""
    out = subprocess.run([distconv, "checkpoint", folder], capture_output=True, text=True, check=True).stdout
    table, section = {}, None
    for line in out.splitlines():
        if line.startswith("model.safetensors") or line.startswith("optimizer.safetensors"):
            section = line.split(":")[0]
        elif line.startswith("  ") and section == "model.safetensors":
            parts = line.split()
            name, dtype = parts[0], parts[1]
            shape = tuple(int(x) for x in line[line.index("[") + 1:line.index("]")].split(",") if x.strip())
            mean = float(parts[parts.index("mean") + 1])
            absmax = float(parts[parts.index("absmax") + 1])
            table[name] = (dtype, shape, mean, absmax)
    return table


def main():
    distconv, first, *others = sys.argv[1:]
    tensors = load_file(first + "/model.safetensors")
    if set(tensors) != set(EXPECTED):
        fail(f"names {sorted(tensors)} != {sorted(EXPECTED)}")
    table = reported(distconv, first)
    for name, shape in EXPECTED.items():
        t = tensors.get(name)
        if t is None:
            continue
        if t.shape != shape or t.dtype != np.float32:
            fail(f"{name}: {t.dtype} {t.shape}, expected float32 {shape}")
        dtype, rshape, mean, absmax = table.get(name, ("?", (), 0.0, 0.0))
        if dtype != "F32" or rshape != t.shape:
            fail(f"{name}: distconv checkpoint says {dtype} {rshape}, the file holds {t.dtype} {t.shape}")
        if not np.isclose(mean, t.astype(np.float64).mean(), rtol=1e-6, atol=1e-9) or \
                not np.isclose(absmax, np.abs(t).max(), rtol=1e-6):
            fail(f"{name}: distconv checkpoint says mean {mean} absmax {absmax}, "
                 f"numpy {t.astype(np.float64).mean()} {np.abs(t).max()}")
    optimizer = load_file(first + "/optimizer.safetensors")
    if set(optimizer) != {n + ".momentum_buffer" for n in EXPECTED}:
        fail(f"optimizer names {sorted(optimizer)}")
    for other in others:
        o = load_file(other + "/model.safetensors")
        for name, t in tensors.items():
            if name not in o or o[name].shape != t.shape:
                fail(f"{other}: {name} missing or of another shape")
            elif not np.allclose(o[name], t, rtol=1e-4, atol=1e-6):
                fail(f"{other}: {name} differs by {np.abs(o[name] - t).max()}")
    try:
        import torch
        sys.path.insert(0, "bench/pytorch")
        from fashion_cnn import FashionCNN
        from safetensors.torch import load_file as load_torch
    except ImportError:
        print("torch is not installed: the strict load is skipped")
    else:
        model = FashionCNN()
        model.load_state_dict(load_torch(first + "/model.safetensors"), strict=True)
        with torch.no_grad():
            scores = model(torch.zeros(2, 1, 28, 28))
        if tuple(scores.shape) != (2, 10):
            fail(f"torch forward gave {tuple(scores.shape)}")
        print("torch: load_state_dict(strict=True) ok")
    print("PASS" if not failures else f"FAIL: {len(failures)} problems")
    sys.exit(1 if failures else 0)


main()
