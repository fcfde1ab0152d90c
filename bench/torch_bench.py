"""PyTorch side of bench/run.mjs: the same cases, timed the same way, on 2 CPU threads.

Reads JSON from stdin: {"cases": [{"id", "kind", "params"}...], "warmup_s", "min_repeat_s",
"repeats"}; writes JSON to stdout: {"torch", "python", "threads", "blas", "results": {id:
{"median_s", "iters", "samples_s"} | {"error"}}}. Progress goes to stderr.

To add a kind: add a function to KERNELS that makes the inputs and returns a zero-argument
callable that runs one iteration (see bench/cases.mjs).
"""

import json
import os
import platform
import statistics
import sys
import time

import torch

# The models, layer for layer as packages/vision's, shared with the device benchmark.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "device"))
from torch_cuda_bench import ResNet9, TutorialNet  # noqa: E402

torch.set_num_threads(2)
torch.manual_seed(0)


def conv_out(size, k, stride, padding):
    return (size + 2 * padding - k) // stride + 1


def conv_inputs(p):
    x = torch.randn(p["n"], p["c"], p["h"], p["w"])
    w = torch.randn(p["o"], p["c"], p["k"], p["k"])
    ho = conv_out(p["h"], p["k"], p["stride"], p["padding"])
    wo = conv_out(p["w"], p["k"], p["stride"], p["padding"])
    gy = torch.randn(p["n"], p["o"], ho, wo)
    return x, w, gy


def conv_backward(gy, x, w, p, mask):
    """The kernel autograd runs for conv2d's backward (aten::convolution_backward)."""
    s, pad = [p["stride"]] * 2, [p["padding"]] * 2
    if hasattr(torch.ops.aten, "convolution_backward"):
        return torch.ops.aten.convolution_backward(
            gy, x, w, None, s, pad, [1, 1], False, [0, 0], 1, mask
        )
    # older torch: the Python helpers (slower than what autograd uses)
    gi = torch.nn.grad.conv2d_input(x.shape, w, gy, s, pad) if mask[0] else None
    gw = torch.nn.grad.conv2d_weight(x, w.shape, gy, s, pad) if mask[1] else None
    return gi, gw, None


def k_matmul(p):
    a, b = torch.randn(p["n"], p["n"]), torch.randn(p["n"], p["n"])
    return lambda: torch.matmul(a, b)


def k_conv2d(p):
    x, w, _ = conv_inputs(p)
    bias = torch.randn(p["o"])
    return lambda: torch.nn.functional.conv2d(x, w, bias, stride=p["stride"], padding=p["padding"])


def k_conv2d_backward_input(p):
    x, w, gy = conv_inputs(p)
    return lambda: conv_backward(gy, x, w, p, [True, False, False])


def k_conv2d_backward_weight(p):
    x, w, gy = conv_inputs(p)
    return lambda: conv_backward(gy, x, w, p, [False, True, False])


def k_batch_norm_train(p):
    x = torch.randn(p["n"], p["c"], p["h"], p["w"], requires_grad=True)
    gy = torch.randn(p["n"], p["c"], p["h"], p["w"])
    bn = torch.nn.BatchNorm2d(p["c"])

    def step():
        with torch.enable_grad():  # the harness runs kernels under no_grad
            return torch.autograd.grad([bn(x)], [x, bn.weight, bn.bias], [gy])

    return step


def k_add(p):
    a, b = torch.randn(p["n"]), torch.randn(p["n"])
    return lambda: torch.add(a, b)


def k_sum(p):
    a = torch.randn(p["n"])
    return lambda: a.sum()


def train_step(net, opt, n):
    """One SGD step of net on a fixed random batch of n CIFAR-sized images (bench/cases.mjs' trainStep)."""
    x, y = torch.randn(n, 3, 32, 32), torch.randint(0, 10, (n,))

    def step():
        with torch.enable_grad():  # the harness runs kernels under no_grad
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            return loss.item()

    return step


def k_convnet_train(p):
    net = TutorialNet()
    return train_step(net, torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9), p["n"])


def k_resnet9_train(p):
    net = ResNet9()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    return train_step(net, opt, p["n"])


class VisionTransformer(torch.nn.Module):
    """packages/vision's VisionTransformer, layer for layer (its defaults)."""

    def __init__(self, image_size=32, patch=4, layers=6, heads=3, dim=192, mlp=384, classes=10):
        super().__init__()
        self.conv_proj = torch.nn.Conv2d(3, dim, patch, stride=patch)
        self.class_token = torch.nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = torch.nn.Parameter(torch.randn(1, (image_size // patch) ** 2 + 1, dim) * 0.02)
        self.layers = torch.nn.ModuleList(
            torch.nn.TransformerEncoderLayer(dim, heads, mlp, 0.0, "gelu", 1e-6, batch_first=True, norm_first=True)
            for _ in range(layers)
        )
        self.ln = torch.nn.LayerNorm(dim, eps=1e-6)
        self.head = torch.nn.Linear(dim, classes)

    def forward(self, x):
        z = self.conv_proj(x).flatten(2).transpose(1, 2)
        z = torch.cat([self.class_token.expand(x.shape[0], -1, -1), z], 1) + self.pos_embedding
        for layer in self.layers:
            z = layer(z)
        return self.head(self.ln(z)[:, 0])


def k_vit_train(p):
    net = VisionTransformer()
    return train_step(net, torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9), p["n"])


def k_convnet_eval(p):
    net = TutorialNet().eval()
    x = torch.randn(p["n"], 3, 32, 32)

    def step():
        with torch.no_grad():
            return net(x).argmax(1)

    return step


def k_pipeline(p):
    """The idiomatic PyTorch input pipeline over the same CIFAR-10 binary files: a Dataset of
    uint8 CHW tensors, per-sample torchvision transforms in the DataLoader's workers."""
    import numpy as np
    import torchvision.transforms as T

    root = os.path.join(p["dataDir"], "cifar-10-batches-bin")
    raw = np.concatenate([np.fromfile(os.path.join(root, f"data_batch_{i}.bin"), dtype=np.uint8) for i in range(1, 6)])
    records = raw.reshape(-1, 3073)
    labels = torch.from_numpy(records[:, 0].astype(np.int64))
    images = torch.from_numpy(records[:, 1:].reshape(-1, 3, 32, 32).copy())
    tf = T.Compose([
        T.RandomHorizontalFlip(),
        T.RandomCrop(32, padding=4, padding_mode="reflect"),
        T.ConvertImageDtype(torch.float32),
        T.Normalize((0.4914, 0.4822, 0.4465), (0.247, 0.2435, 0.2616)),
    ])

    class Cifar(torch.utils.data.Dataset):
        def __len__(self):
            return len(labels)

        def __getitem__(self, i):
            return tf(images[i]), labels[i]

    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(labels), generator=g)[: p["batches"] * p["batchSize"]].tolist()
    loader = torch.utils.data.DataLoader(
        Cifar(), batch_size=p["batchSize"], sampler=order, num_workers=p["workers"], persistent_workers=p["workers"] > 0
    )

    def step():
        for x, y in loader:
            pass

    return step


KERNELS = {
    "pipeline": k_pipeline,
    "convnetTrain": k_convnet_train,
    "resnet9Train": k_resnet9_train,
    "vitTrain": k_vit_train,
    "convnetEval": k_convnet_eval,
    "matmul": k_matmul,
    "conv2d": k_conv2d,
    "conv2dBackwardInput": k_conv2d_backward_input,
    "conv2dBackwardWeight": k_conv2d_backward_weight,
    "batchNormTrain": k_batch_norm_train,
    "add": k_add,
    "sum": k_sum,
}


def measure(step, warmup_s, min_repeat_s, repeats):
    """Same protocol as bench/run.mjs: warm up, size a repeat to >= min_repeat_s, median."""
    t0 = time.perf_counter()
    step()
    once = time.perf_counter() - t0
    warm_end = time.perf_counter() + warmup_s
    while time.perf_counter() < warm_end:
        t0 = time.perf_counter()
        step()
        once = min(once, time.perf_counter() - t0)
    iters = max(1, int(min_repeat_s / max(once, 1e-9) + 0.999))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        samples.append((time.perf_counter() - t0) / iters)
    return {"median_s": statistics.median(samples), "iters": iters, "samples_s": samples}


def loaded_blas():
    """BLAS/LAPACK shared objects mapped into this process (after a matmul has run)."""
    torch.randn(64, 64) @ torch.randn(64, 64)
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                name = path.rsplit("/", 1)[-1].lower()
                if "blas" in name or "lapack" in name or "mkl" in name:
                    libs.add(path)
    except OSError:
        pass
    return sorted(libs)


def main():
    spec = json.load(sys.stdin)
    out = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "blas": loaded_blas(),
        "results": {},
    }
    with torch.no_grad():
        for case in spec["cases"]:
            print(f"torch: {case['id']}", file=sys.stderr, flush=True)
            try:
                step = KERNELS[case["kind"]](case["params"])
                out["results"][case["id"]] = measure(
                    step, spec["warmup_s"], spec["min_repeat_s"], spec["repeats"]
                )
            except Exception as e:  # report and go on with the other cases
                out["results"][case["id"]] = {"error": f"{type(e).__name__}: {e}"}
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
