"""PyTorch's CIFAR-10 tutorial recipe on the same data, for bench/run.mjs --recipe.

The ConvNet, SGD lr 0.001 momentum 0.9, batch 128 (test 100), Normalize(0.5, 0.5), no
augmentation, 10 epochs. Reads the binary CIFAR-10 from argv[1] (the folder holding
cifar-10-batches-bin/); prints one JSON object: epoch seconds and final test accuracy.
"""
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from torch_bench import TutorialNet  # noqa: E402


def load(root, files):
    raw = np.concatenate([np.fromfile(os.path.join(root, "cifar-10-batches-bin", f), dtype=np.uint8) for f in files])
    rec = raw.reshape(-1, 3073)
    x = torch.from_numpy(rec[:, 1:].reshape(-1, 3, 32, 32).copy()).float().div(255).sub(0.5).div(0.5)
    return x, torch.from_numpy(rec[:, 0].astype(np.int64))


def main():
    root, epochs, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(2)
    torch.manual_seed(seed)
    xtr, ytr = load(root, [f"data_batch_{i}.bin" for i in range(1, 6)])
    xte, yte = load(root, ["test_batch.bin"])
    net = TutorialNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    epoch_s = []
    # The tutorial's DataLoader(shuffle=True, batch_size=128) draws its order from the default
    # generator; iterating one over the indices draws the same and slices the in-memory tensors.
    order = torch.utils.data.DataLoader(range(len(ytr)), batch_size=128, shuffle=True)
    for _ in range(epochs):
        t0 = time.perf_counter()
        for idx in order:  # drop_last=False: a short last batch
            opt.zero_grad()
            loss_fn(net(xtr[idx]), ytr[idx]).backward()
            opt.step()
        epoch_s.append(time.perf_counter() - t0)
    with torch.no_grad():
        correct = sum((net(xte[i:i + 100]).argmax(1) == yte[i:i + 100]).sum().item() for i in range(0, len(yte), 100))
    print(json.dumps({"epoch_s": epoch_s, "accuracy": correct / len(yte), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
