"""PyTorch's side of the CUDA benchmark; scripts/device/src/bench-cuda.ts is ours. Same cases,
same protocol, same JSON lines (scripts/device/report.mjs puts them side by side).

  python torch_cuda_bench.py [--device cuda|cpu] [--quick | --smoke] [--data DIR] [--only CASES]
                             [--no-compile] [--tf32]

Suites:
  torch-eager     every case: convnet-train, convnet-eval, resnet9-train, recipe (see bench-cuda.ts)
  torch-compiled  the ConvNet training step with the loss compiled by torch.compile in
                  mode "reduce-overhead" (Inductor kernels replayed as CUDA graphs; "default" if
                  that fails) and the optimizer step compiled too. A compile failure is an error
                  line, not fatal; without torch.compile, on the CPU or with --no-compile the line
                  says skipped. The compile time (first two steps) is in compile_s.
Models are ours, layer for layer: the tutorial ConvNet and ResNet-9 of packages/vision/src/models.
Float32 throughout: TF32 is off for cuDNN convolutions (cuBLAS matmuls are float32 by default)
unless --tf32. The legacy allow_tf32 flags are set on purpose: the newer fp32_precision settings
make Inductor fail on its mixed-API check (pytorch/pytorch#166387).
Also runs on the CPU (--device cpu --smoke) with PyTorch 1.13 to check this script.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# Per mode: seconds of timed runs per case, minimum run length, most repeats, warm-up seconds and
# steps, recipe epochs, batch sizes, and at most how many images of each split the recipe uses.
MODES = {
    "full": dict(budget_s=6, min_run_s=0.2, max_repeats=7, warmup_s=1, warmup_steps=2, epochs=10, issue_runs=5, issue_steps=4,
                 batch={"convnet-train": 128, "convnet-eval": 1000, "resnet9-train": 512}, limit=None),
    "quick": dict(budget_s=2, min_run_s=0.1, max_repeats=5, warmup_s=0.3, warmup_steps=2, epochs=1, issue_runs=5, issue_steps=4,
                  batch={"convnet-train": 128, "convnet-eval": 1000, "resnet9-train": 512}, limit=None),
    "smoke": dict(budget_s=0.3, min_run_s=0.02, max_repeats=3, warmup_s=0, warmup_steps=0, epochs=1, issue_runs=1, issue_steps=1,
                  batch={"convnet-train": 128, "convnet-eval": 200, "resnet9-train": 2}, limit=(2560, 1000)),
}
CASES = ["convnet-train", "convnet-eval", "resnet9-train", "recipe"]
RECIPE_METRICS = ["recipe-upload", "recipe-wall", "recipe-epoch", "recipe-test-acc"]
RECIPE_BATCH = 128
EVAL_BATCH = 1000


class TutorialNet(nn.Module):
    """conv 3->6 5x5, max pool 2, conv 6->16 5x5, max pool 2, 400->120->84->10 (packages/vision/src/models/tutorial.ts)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc3(F.relu(self.fc2(x)))


def conv_bn_relu(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class Residual(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.res1 = conv_bn_relu(channels, channels)
        self.res2 = conv_bn_relu(channels, channels)

    def forward(self, x):
        return x + self.res2(self.res1(x))


class ResNet9(nn.Module):
    """ResNet-9 as packages/vision/src/models/resnet.ts: prep 64, layer1 128 + pool + residual,
    layer2 256 + pool, layer3 512 + pool + residual, global max pool, linear without bias, x 0.125."""

    def __init__(self, num_classes=10, scale=0.125):
        super().__init__()
        self.prep = conv_bn_relu(3, 64)
        self.layer1 = nn.Sequential(conv_bn_relu(64, 128), nn.MaxPool2d(2))
        self.res1 = Residual(128)
        self.layer2 = nn.Sequential(conv_bn_relu(128, 256), nn.MaxPool2d(2))
        self.layer3 = nn.Sequential(conv_bn_relu(256, 512), nn.MaxPool2d(2))
        self.res3 = Residual(512)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(512, num_classes, bias=False)
        self.scale = scale

    def forward(self, x):
        x = self.prep(x)
        x = self.res1(self.layer1(x))
        x = self.layer2(x)
        x = self.res3(self.layer3(x))
        return self.fc(self.pool(x).flatten(1)) * self.scale


class Bench:
    def __init__(self, args):
        self.device = torch.device(args.device)
        self.cuda = self.device.type == "cuda"
        self.mode_name = "smoke" if args.smoke else "quick" if args.quick else "full"
        self.mode = MODES[self.mode_name]
        self.args = args

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def reset_peak(self):
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()

    def peak_bytes(self):
        return torch.cuda.max_memory_allocated() if self.cuda else None

    def measure(self, step):
        """One untimed step, warm-up, then repeats of iters steps between synchronisations (bench-cuda.ts' protocol)."""
        m = self.mode

        def timed(n):
            self.sync()
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            self.sync()
            return (time.perf_counter() - t0) / n

        once = timed(1)
        warm_end = time.perf_counter() + m["warmup_s"]
        n = 0
        while n < m["warmup_steps"] or time.perf_counter() < warm_end:
            once = min(once, timed(1))
            n += 1
        iters = max(1, math.ceil(m["min_run_s"] / once))
        repeats = max(1, min(m["max_repeats"], int(m["budget_s"] // (iters * once))))
        samples = [timed(iters) for _ in range(repeats)]
        return statistics.median(samples), iters, repeats, samples

    def inputs(self, batch):
        torch.manual_seed(0)
        x = torch.randn(batch, 3, 32, 32).to(self.device)
        y = torch.randint(0, 10, (batch,)).to(self.device)
        return x, y

    def issue_ms(self, step):
        """The host's time to issue a step without waiting (bench-cuda.ts' issueMs): ms per step."""
        samples = []
        for _ in range(self.mode["issue_runs"]):
            self.sync()
            t0 = time.perf_counter()
            for _ in range(self.mode["issue_steps"]):
                step()
            samples.append((time.perf_counter() - t0) / self.mode["issue_steps"] * 1e3)
        self.sync()
        return statistics.median(samples)

    def throughput(self, suite, metric, net, step, batch, extra=None):
        self.reset_peak()
        x, y = self.inputs(batch)
        median, iters, repeats, samples = self.measure(lambda: step(x, y))
        emit(suite, metric, batch / median, "images/s", batch=batch, step_ms=median * 1e3, iters=iters,
             repeats=repeats, samples_ms=[s * 1e3 for s in samples], peak_bytes=self.peak_bytes(),
             issue_ms=self.issue_ms(lambda: step(x, y)), params=sum(p.numel() for p in net.parameters()), **(extra or {}))

    def train_step(self, net, opt):
        def step(x, y):
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()

        return step

    def convnet_train(self):
        torch.manual_seed(0)
        net = TutorialNet().to(self.device)
        opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
        self.throughput("torch-eager", "convnet-train", net, self.train_step(net, opt), self.mode["batch"]["convnet-train"])

    def convnet_eval(self):
        torch.manual_seed(0)
        net = TutorialNet().to(self.device).eval()

        def step(x, _y):
            with torch.no_grad():
                net(x).argmax(1)

        self.throughput("torch-eager", "convnet-eval", net, step, self.mode["batch"]["convnet-eval"])

    def resnet9_train(self):
        torch.manual_seed(0)
        net = ResNet9().to(self.device)
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
        self.throughput("torch-eager", "resnet9-train", net, self.train_step(net, opt), self.mode["batch"]["resnet9-train"])

    def convnet_train_compiled(self):
        """The ConvNet step with the loss (forward and backward graphs) and the optimizer step compiled."""
        errors = []
        for mode in ("reduce-overhead", "default"):
            torch._dynamo.reset()
            torch.manual_seed(0)
            net = TutorialNet().to(self.device)
            opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
            loss_fn = torch.compile(lambda x, y: F.cross_entropy(net(x), y), mode=mode)

            @torch.compile(fullgraph=False)
            def opt_step():
                opt.step()

            def step(x, y):
                opt.zero_grad(set_to_none=True)
                loss_fn(x, y).backward()
                opt_step()

            try:
                x, y = self.inputs(self.mode["batch"]["convnet-train"])
                t0 = time.perf_counter()
                step(x, y)
                step(x, y)
                self.sync()
                compile_s = time.perf_counter() - t0
                self.throughput("torch-compiled", "convnet-train", net, step, self.mode["batch"]["convnet-train"],
                                {"compile_mode": mode, "compile_s": compile_s, "failed_modes": errors})
                return
            except Exception as e:  # noqa: BLE001 - any compile failure is reported, then the next mode
                errors.append(f"{mode}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        raise RuntimeError("; ".join(errors))

    def load(self, files, limit):
        root = os.path.join(self.args.data, "cifar-10-batches-bin")
        raw = np.concatenate([np.fromfile(os.path.join(root, f), dtype=np.uint8) for f in files]).reshape(-1, 3073)
        if limit is not None:
            raw = raw[:limit]
        return torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).copy()), torch.from_numpy(raw[:, 0].astype(np.int64))

    def recipe(self):
        if not self.args.data:
            raise RuntimeError("no --data folder (the CIFAR-10 cache made by cifar-cache.mjs)")
        limit = self.mode["limit"] or (None, None)
        xtr, ytr = self.load([f"data_batch_{i}.bin" for i in range(1, 6)], limit[0])
        xte, yte = self.load(["test_batch.bin"], limit[1])
        self.reset_peak()
        t0 = time.perf_counter()
        xtr = xtr.to(self.device).float().div(255).sub(0.5).div(0.5)
        xte = xte.to(self.device).float().div(255).sub(0.5).div(0.5)
        ytr, yte = ytr.to(self.device), yte.to(self.device)
        self.sync()
        upload = time.perf_counter() - t0
        torch.manual_seed(0)
        net = TutorialNet().to(self.device)
        opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
        g = torch.Generator().manual_seed(0)
        n = len(ytr)
        steps = n // RECIPE_BATCH
        epoch_s = []
        t0 = time.perf_counter()
        for epoch in range(self.mode["epochs"]):
            e0 = time.perf_counter()
            perm = torch.randperm(n, generator=g).to(self.device)
            xs, ys = xtr[perm], ytr[perm]  # shuffled once an epoch, as bench-cuda.ts does
            for b in range(steps):
                batch = slice(b * RECIPE_BATCH, (b + 1) * RECIPE_BATCH)
                opt.zero_grad()
                loss = F.cross_entropy(net(xs[batch]), ys[batch])
                loss.backward()
                opt.step()
            self.sync()
            epoch_s.append(time.perf_counter() - e0)
            print(f"torch recipe: epoch {epoch + 1}/{self.mode['epochs']} {epoch_s[-1]:.2f} s, last loss {loss.item():.3f}", file=sys.stderr, flush=True)
        net.eval()
        correct = 0
        with torch.no_grad():
            for s in range(0, len(yte), EVAL_BATCH):
                correct += (net(xte[s:s + EVAL_BATCH]).argmax(1) == yte[s:s + EVAL_BATCH]).sum().item()
        wall = time.perf_counter() - t0
        common = dict(epochs=self.mode["epochs"], train_images=n, steps_per_epoch=steps, test_images=len(yte), peak_bytes=self.peak_bytes())
        emit("torch-eager", "recipe-upload", upload, "s", **common)
        emit("torch-eager", "recipe-wall", wall, "s", epoch_s=epoch_s, **common)
        emit("torch-eager", "recipe-epoch", statistics.median(epoch_s), "s", **common)
        emit("torch-eager", "recipe-test-acc", 100 * correct / len(yte), "%", **common)


def emit(suite, metric, value, unit, **extra):
    print(json.dumps({"suite": suite, "metric": metric, "value": value, "unit": unit, **extra}), flush=True)


def emit_error(suite, metric, error=None, skipped=None):
    line = {"suite": suite, "metric": metric}
    line.update({"error": error} if error is not None else {"skipped": skipped})
    print(json.dumps(line), flush=True)


def set_tf32(allowed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy flags warn that they will be deprecated
        torch.backends.cudnn.allow_tf32 = allowed
        torch.backends.cuda.matmul.allow_tf32 = allowed


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--data")
    p.add_argument("--only", default=",".join(CASES))
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--tf32", action="store_true")
    args = p.parse_args()
    only = args.only.split(",")
    unknown = [c for c in only if c not in CASES]
    if unknown:
        p.error(f"--only: unknown case {', '.join(unknown)}; cases: {', '.join(CASES)}")
    bench = Bench(args)
    set_tf32(args.tf32)
    env = {"suite": "torch", "kind": "env", "torch": torch.__version__, "python": platform.python_version(),
           "device": str(bench.device), "mode": bench.mode_name, "tf32": args.tf32,
           "cudnn_benchmark": torch.backends.cudnn.benchmark, "compile_available": hasattr(torch, "compile")}
    if bench.cuda:
        if not torch.cuda.is_available():
            print(json.dumps({**env, "error": "torch.cuda.is_available() is False"}), flush=True)
            sys.exit(1)
        env.update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version(), gpu=torch.cuda.get_device_name())
    print(json.dumps(env), flush=True)

    compile_skip = ("--no-compile" if args.no_compile else "not on the CPU" if not bench.cuda
                    else "--quick" if args.quick else None if hasattr(torch, "compile") else f"torch {torch.__version__} has no torch.compile")
    eager = {"convnet-train": bench.convnet_train, "convnet-eval": bench.convnet_eval,
             "resnet9-train": bench.resnet9_train, "recipe": bench.recipe}
    # The compiled step last: a slow compile must not cost the eager figures their time box.
    runs = [("torch-eager", name, eager[name]) for name in only]
    if "convnet-train" in only:
        runs.append(("torch-compiled", "convnet-train", None if compile_skip else bench.convnet_train_compiled))
    for suite, name, run in runs:
        print(f"torch: {suite} {name}", file=sys.stderr, flush=True)
        metrics = RECIPE_METRICS if name == "recipe" else [name]
        if run is None:
            for m in metrics:
                emit_error(suite, m, skipped=compile_skip)
            continue
        try:
            run()
        except Exception as e:  # noqa: BLE001 - report the case and go on with the next
            for m in metrics:
                emit_error(suite, m, error=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")


if __name__ == "__main__":
    main()
