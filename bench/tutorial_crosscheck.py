"""PyTorch side of the tutorial-recipe cross-check (bench/tutorial_crosscheck.mjs is ours).

Both sides train the tutorial ConvNet (SGD lr 0.001 momentum 0.9, batch 128, CrossEntropyLoss,
Normalize(0.5, 0.5)) from the SAME initial weights over the SAME batches, so any systematic
difference between the frameworks shows as per-step losses that part from step 1, while an
equivalent implementation agrees to float32 round-off (which grows slowly with the steps).

Run with Debian's torch 1.13 (`/usr/bin/python3`), DATA = the folder holding cifar-10-batches-bin/:

  /usr/bin/python3 bench/tutorial_crosscheck.py export DIR --seed S [--epochs E]
      torch's initial weights (torch.manual_seed(S); TutorialNet()) to DIR/init.safetensors and
      the order of E epochs of DataLoader(shuffle=True) to DIR/order.bin (int32)
  /usr/bin/python3 bench/tutorial_crosscheck.py run DATA DIR [--steps K]
      K steps from DIR/init.safetensors over DIR/order.bin (391 batches per epoch, the last one of
      80 images, as DataLoader(drop_last=False), our trainer and bench/torch_tutorial.py do); writes DIR/torch.json
      (per-step losses, test loss/accuracy before and after, data checksums) and
      DIR/torch_final.safetensors
  /usr/bin/python3 bench/tutorial_crosscheck.py init-stats [--seeds N]
      per-layer statistics of torch's default initialisation over N seeds, as JSON

The safetensors files are read and written by hand (little-endian u64 header length, JSON
header, raw little-endian data): no safetensors package is needed.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from torch_bench import TutorialNet  # noqa: E402

BATCH = 128
TRAIN_N = 50000
DTYPES = {"F32": np.float32, "I32": np.int32, "I64": np.int64}
NAMES = {np.dtype(v): k for k, v in DTYPES.items()}


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        a = np.ascontiguousarray(t.detach().cpu().numpy() if torch.is_tensor(t) else t)
        b = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": NAMES[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        a = np.frombuffer(raw[8 + n + b:8 + n + end], dtype=np.dtype(DTYPES[e["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(a.astype(DTYPES[e["dtype"]]).reshape(e["shape"]))
    return out


def load_split(root, files):
    """The binary records as bench/torch_tutorial.py reads them: uint8 NCHW images, int64 labels."""
    raw = np.concatenate([np.fromfile(os.path.join(root, "cifar-10-batches-bin", f), dtype=np.uint8) for f in files])
    rec = raw.reshape(-1, 3073)
    return torch.from_numpy(rec[:, 1:].reshape(-1, 3, 32, 32).copy()), torch.from_numpy(rec[:, 0].astype(np.int64))


def to_input(x):
    """ToTensor then Normalize(0.5, 0.5), in torchvision's arithmetic: x / 255, then (x - 0.5) / 0.5."""
    return x.float().div(255).sub(0.5).div(0.5)


def evaluate(net, xte, yte):
    net.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(yte), 100):
            out = net(to_input(xte[i:i + 100]))
            loss += torch.nn.functional.cross_entropy(out, yte[i:i + 100], reduction="sum").item()
            correct += (out.argmax(1) == yte[i:i + 100]).sum().item()
    net.train()
    return {"loss": loss / len(yte), "accuracy": correct / len(yte)}


def cmd_export(a):
    os.makedirs(a.dir, exist_ok=True)
    torch.manual_seed(a.seed)
    net = TutorialNet()
    save_safetensors(os.path.join(a.dir, "init.safetensors"), net.state_dict())
    # Each epoch's order as the tutorial's DataLoader(shuffle=True) draws it from the default generator.
    epochs = torch.utils.data.DataLoader(range(TRAIN_N), batch_size=TRAIN_N, shuffle=True)
    order = torch.cat([next(iter(epochs)) for _ in range(a.epochs)]).to(torch.int32)
    order.numpy().astype("<i4").tofile(os.path.join(a.dir, "order.bin"))
    print(json.dumps({"seed": a.seed, "epochs": a.epochs, "dir": a.dir}))


def cmd_run(a):
    torch.set_num_threads(2)
    xtr, ytr = load_split(a.data, [f"data_batch_{i}.bin" for i in range(1, 6)])
    xte, yte = load_split(a.data, ["test_batch.bin"])
    order = torch.from_numpy(np.fromfile(os.path.join(a.dir, "order.bin"), dtype="<i4").astype(np.int64))
    per_epoch = (TRAIN_N + BATCH - 1) // BATCH
    steps = min(a.steps, (len(order) // TRAIN_N) * per_epoch)
    net = TutorialNet()
    net.load_state_dict(load_safetensors(os.path.join(a.dir, "init.safetensors")))
    opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    before = evaluate(net, xte, yte)
    losses = []
    first_input_sum = None
    for s in range(steps):
        e, b = divmod(s, per_epoch)
        idx = order[e * TRAIN_N + b * BATCH:e * TRAIN_N + min((b + 1) * BATCH, TRAIN_N)]
        x = to_input(xtr[idx])
        if s == 0:
            first_input_sum = x.double().sum().item()
        opt.zero_grad()
        loss = loss_fn(net(x), ytr[idx])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    after = evaluate(net, xte, yte)
    save_safetensors(os.path.join(a.dir, "torch_final.safetensors"), net.state_dict())
    out = {
        "torch": torch.__version__,
        "steps": steps,
        "losses": losses,
        "before": before,
        "after": after,
        "checksums": {
            "trainPixelSum": int(xtr.sum(dtype=torch.int64)),
            "testPixelSum": int(xte.sum(dtype=torch.int64)),
            "trainLabelCounts": torch.bincount(ytr, minlength=10).tolist(),
            "firstInputSum": first_input_sum,
        },
    }
    with open(os.path.join(a.dir, "torch.json"), "w") as f:
        json.dump(out, f)
    print(json.dumps({k: out[k] for k in ("steps", "before", "after")} | {"lastLoss": losses[-1] if losses else None}))


def stats(values):
    v = np.concatenate(values).astype(np.float64)
    return {"n": int(v.size), "mean": v.mean(), "std": v.std(), "min": v.min(), "max": v.max(), "absMean": np.abs(v).mean()}


def cmd_init_stats(a):
    per = {}
    for seed in range(a.seeds):
        torch.manual_seed(seed)
        for name, t in TutorialNet().state_dict().items():
            per.setdefault(name, []).append(t.numpy().ravel())
    print(json.dumps({name: stats(v) for name, v in per.items()}))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("dir")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--epochs", type=int, default=1)
    r = sub.add_parser("run")
    r.add_argument("data")
    r.add_argument("dir")
    r.add_argument("--steps", type=int, default=391)
    s = sub.add_parser("init-stats")
    s.add_argument("--seeds", type=int, default=100)
    a = p.parse_args()
    {"export": cmd_export, "run": cmd_run, "init-stats": cmd_init_stats}[a.cmd](a)


if __name__ == "__main__":
    main()
