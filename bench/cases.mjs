// Benchmark cases, shared by our side (bench/run.mjs) and PyTorch's (bench/torch_bench.py).
//
// To add a benchmark:
//   1. add a case to CASES: a unique `id`, a `kind`, its `params` (plain JSON: they are sent to
//      the Python side too), a `shape` label, and a throughput `unit` with `work`, the amount of
//      that unit's numerator one iteration does (FLOPs for GFLOP/s, bytes for GB/s, images for
//      images/s; see UNITS);
//   2. if the kind is new, implement it in KERNELS below AND in KERNELS in bench/torch_bench.py.
// A kernel makes its inputs once and returns { step, inputs }: `step` runs one iteration to
// completion (timed); the harness disposes `inputs` afterwards. The harness calls kernels inside
// a scope, so tensors made by a kernel that throws are freed too.

/** unit → divisor that turns `work` per second into that unit */
export const UNITS = { 'GFLOP/s': 1e9, 'GB/s': 1e9, 'images/s': 1 };

const F32 = 4; // bytes per float32

/** output size of a convolution along one spatial dim */
const convOut = (size, k, stride, padding) => Math.floor((size + 2 * padding - k) / stride) + 1;

function conv(id, kind, { n, c, h, w, o, k, stride = 1, padding = 0 }) {
  const ho = convOut(h, k, stride, padding);
  const wo = convOut(w, k, stride, padding);
  // forward, grad-input and grad-weight all do N*O*Ho*Wo*C*k*k multiply-adds (bias excluded)
  const flops = 2 * n * o * ho * wo * c * k * k;
  return {
    id,
    kind,
    params: { n, c, h, w, o, k, stride, padding },
    shape: `x[${n},${c},${h},${w}] w[${o},${c},${k},${k}]`,
    unit: 'GFLOP/s',
    work: flops,
  };
}

// The tutorial ConvNet (CIFAR-10, batch 128): conv1 3->6 5x5 on 32x32, conv2 6->16 5x5 on 14x14.
const CONV1 = { n: 128, c: 3, h: 32, w: 32, o: 6, k: 5 };
const CONV2 = { n: 128, c: 6, h: 14, w: 14, o: 16, k: 5 };
// ResNet-9's deepest convolution (its residual block on 4x4 maps) at batch 32: 3x3, 512->512, padding 1.
const RES3 = { n: 32, c: 512, h: 4, w: 4, o: 512, k: 3, padding: 1 };
const N4M = 4 * 1024 * 1024;

export const CASES = [
  ...[256, 512, 1024].map((n) => ({
    id: `matmul-${n}`,
    kind: 'matmul',
    params: { n },
    shape: `${n}x${n} @ ${n}x${n}`,
    unit: 'GFLOP/s',
    work: 2 * n ** 3,
  })),
  conv('conv2d-fwd-conv1', 'conv2d', CONV1),
  conv('conv2d-bwd-input-conv1', 'conv2dBackwardInput', CONV1),
  conv('conv2d-bwd-weight-conv1', 'conv2dBackwardWeight', CONV1),
  conv('conv2d-fwd-conv2', 'conv2d', CONV2),
  conv('conv2d-bwd-input-conv2', 'conv2dBackwardInput', CONV2),
  conv('conv2d-bwd-weight-conv2', 'conv2dBackwardWeight', CONV2),
  conv('conv2d-fwd-res3', 'conv2d', RES3),
  conv('conv2d-bwd-input-res3', 'conv2dBackwardInput', RES3),
  conv('conv2d-bwd-weight-res3', 'conv2dBackwardWeight', RES3),
  // Batch norm in training mode, forward and backward (y, then gx, gw, gb from gy), on the
  // activations of ResNet-9's first layer at batch 32. Minimum traffic: the statistics read x,
  // y reads x and writes y; the gradient sums read gy and x, gx reads both and writes gx.
  { id: 'batchnorm-train-res1', kind: 'batchNormTrain', params: { n: 32, c: 64, h: 32, w: 32 }, shape: 'x[32,64,32,32]', unit: 'GB/s', work: 8 * F32 * 32 * 64 * 32 * 32 },
  // a + b: reads 2 arrays, writes 1
  { id: 'add-4M', kind: 'add', params: { n: N4M }, shape: '4M (2^22)', unit: 'GB/s', work: 3 * F32 * N4M },
  // sum(): reads 1 array
  { id: 'sum-4M', kind: 'sum', params: { n: N4M }, shape: '4M (2^22)', unit: 'GB/s', work: F32 * N4M },
  // The tutorial ConvNet: one SGD training step (forward, cross-entropy, backward, update) and evaluation.
  { id: 'convnet-train-128', kind: 'convnetTrain', params: { n: 128 }, shape: 'tutorial ConvNet, batch 128', unit: 'images/s', work: 128 },
  // Batch 1: almost no arithmetic, so the step time is the framework's own cost per step (module
  // calls, autograd, dispatch, the optimizer), the cost that bounds a step on a GPU.
  { id: 'convnet-train-1', kind: 'convnetTrain', params: { n: 1 }, shape: 'tutorial ConvNet, batch 1', unit: 'images/s', work: 1 },
  // ResNet-9 (batch norm, 3x3 convolutions up to 512 channels): SGD with Nesterov momentum and
  // weight decay, as the device benchmark, at a batch the 2-core machine takes in about half a second.
  { id: 'resnet9-train-32', kind: 'resnet9Train', params: { n: 32 }, shape: 'ResNet-9, batch 32', unit: 'images/s', work: 32 },
  // The Vision Transformer (@dl/vision's defaults: 65 tokens of 192, 6 pre-norm layers, 3 heads):
  // attention and the transformer layers rather than convolutions. SGD with momentum.
  { id: 'vit-train-32', kind: 'vitTrain', params: { n: 32 }, shape: 'ViT (6x192, patch 4), batch 32', unit: 'images/s', work: 32 },
  { id: 'convnet-eval-100', kind: 'convnetEval', params: { n: 100 }, shape: 'tutorial ConvNet, batch 100', unit: 'images/s', work: 100 },
  { id: 'convnet-eval-1000', kind: 'convnetEval', params: { n: 1000 }, shape: 'tutorial ConvNet, batch 1000', unit: 'images/s', work: 1000 },
  // The training input pipeline: CIFAR-10 samples -> batches of 128 (collate) -> flip, random
  // crop (reflect pad 4), normalise; 40 batches an iteration, with 0, 1 and 2 worker threads.
  ...[0, 1, 2].map((workers) => ({
    id: `input-pipeline-w${workers}`,
    kind: 'pipeline',
    params: { workers, batches: 40, batchSize: 128 },
    shape: `CIFAR-10, batch 128, ${workers} workers`,
    unit: 'images/s',
    work: 40 * 128,
  })),
];

/** The tutorial's network (conv 3->6 5x5, pool, conv 6->16 5x5, pool, 400->120->84->10), built from @dl/nn. */
function tutorialNet(dl) {
  const { Module, Conv2d, MaxPool2d, Linear, F } = dl.nn;
  class Net extends Module {
    conv1 = new Conv2d(3, 6, 5);
    pool = new MaxPool2d(2, 2);
    conv2 = new Conv2d(6, 16, 5);
    fc1 = new Linear(400, 120);
    fc2 = new Linear(120, 84);
    fc3 = new Linear(84, 10);
    forward(x) {
      x = this.pool.forward(F.relu(this.conv1.forward(x)));
      x = this.pool.forward(F.relu(this.conv2.forward(x)));
      x = F.relu(this.fc1.forward(x.flatten(1)));
      return this.fc3.forward(F.relu(this.fc2.forward(x)));
    }
  }
  return new Net();
}

/** Our implementations, against the built @dl/tensor (`dl` is its module namespace). */
export const KERNELS = {
  matmul(dl, { n }) {
    const a = dl.randn([n, n]);
    const b = dl.randn([n, n]);
    return { step: () => dl.scope(() => done(a.matmul(b))), inputs: [a, b] };
  },
  conv2d(dl, p) {
    const { x, w, opts } = convInputs(dl, p);
    const bias = dl.randn([p.o]);
    return { step: () => dl.scope(() => done(dl.conv2d(x, w, bias, opts))), inputs: [x, w, bias] };
  },
  conv2dBackwardInput(dl, p) {
    const { x, w, gy, opts } = convInputs(dl, p);
    return {
      step: () => dl.scope(() => done(dl.conv2dBackwardInput(gy, w, x.shape, opts))),
      inputs: [x, w, gy],
    };
  },
  conv2dBackwardWeight(dl, p) {
    const { x, w, gy, opts } = convInputs(dl, p);
    return {
      step: () => dl.scope(() => done(dl.conv2dBackwardWeight(gy, x, w.shape, opts))),
      inputs: [x, w, gy],
    };
  },
  batchNormTrain(dl, { n, c, h, w }) {
    const x = dl.randn([n, c, h, w]).requiresGrad_();
    const gy = dl.randn([n, c, h, w]);
    const bn = new dl.nn.BatchNorm2d(c);
    const params = [x, bn.weight, bn.bias];
    // gx, gw and gb come from one backward kernel: waiting for gx waits for all three.
    return { step: () => dl.scope(() => done(dl.grad([bn.forward(x)], params, [gy])[0])), inputs: [x, gy, ...bn.parameters(), ...bn.buffers()] };
  },
  add(dl, { n }) {
    const a = dl.randn([n]);
    const b = dl.randn([n]);
    return { step: () => dl.scope(() => done(a.add(b))), inputs: [a, b] };
  },
  convnetTrain(dl, { n }) {
    const net = tutorialNet(dl);
    const opt = new dl.optim.SGD(net.parameters(), { lr: 0.001, momentum: 0.9 });
    return trainStep(dl, net, opt, n);
  },
  resnet9Train(dl, { n }) {
    const net = new dl.vision.models.ResNet9();
    const opt = new dl.optim.SGD(net.parameters(), { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
    return trainStep(dl, net, opt, n);
  },
  vitTrain(dl, { n }) {
    const net = new dl.vision.models.VisionTransformer();
    const opt = new dl.optim.SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });
    return trainStep(dl, net, opt, n);
  },
  convnetEval(dl, { n }) {
    const net = tutorialNet(dl).eval();
    const x = dl.randn([n, 3, 32, 32]);
    return { step: () => dl.noGrad(() => dl.scope(() => done(net.forward(x).argmax(1)))), inputs: [x, ...net.parameters()] };
  },
  async pipeline(dl, { workers, batches, batchSize, dataDir }) {
    const { datasets, transforms } = dl.vision;
    const ds = new datasets.CIFAR10(dataDir, { train: true, transform: new transforms.PILToTensor() });
    const order = Array.from(dl.randperm(ds.length, { generator: new dl.Generator(0) }).dataSync()).slice(0, batches * batchSize);
    const batchList = Array.from({ length: batches }, (_, b) => order.slice(b * batchSize, (b + 1) * batchSize));
    const loader = new dl.data.DataLoader(ds, { batchSampler: batchList, numWorkers: workers, persistentWorkers: workers > 0 });
    const g = new dl.Generator(1);
    const mean = [0.4914, 0.4822, 0.4465];
    const std = [0.247, 0.2435, 0.2616];
    const step = async () => {
      for await (const [x, y] of loader) {
        dl.scope(() => {
          let b = x.to('float32').div(255);
          b = transforms.batched.randomHorizontalFlip(b, { generator: g });
          b = transforms.batched.randomCrop(b, { size: 32, padding: 4, paddingMode: 'reflect', generator: g });
          done(transforms.batched.normalize(b, mean, std));
        });
        x.dispose();
        y.dispose();
      }
    };
    return { step, inputs: [], close: () => loader.close() };
  },
  sum(dl, { n }) {
    const a = dl.randn([n]);
    return { step: () => dl.scope(() => done(a.sum())), inputs: [a] };
  },
};

/** One SGD step of `net` on a fixed random batch of n CIFAR-sized images (forward, cross-entropy, backward, update). */
function trainStep(dl, net, opt, n) {
  const x = dl.randn([n, 3, 32, 32]);
  const y = dl.randint(0, 10, [n]);
  const step = () =>
    dl.scope(() => {
      opt.zeroGrad();
      const loss = dl.nn.F.crossEntropy(net.forward(x), y);
      loss.backward();
      opt.step();
      done(loss);
    });
  // Parameters (with their grads), buffers and the optimizer's momentum buffers are freed afterwards.
  const state = () => [...opt.state.values()].flatMap((st) => Object.values(st).filter((v) => v instanceof dl.Tensor));
  return {
    step,
    get inputs() {
      return [x, y, ...net.parameters(), ...net.buffers(), ...state()];
    },
  };
}

function convInputs(dl, { n, c, h, w: width, o, k, stride, padding }) {
  const x = dl.randn([n, c, h, width]);
  const w = dl.randn([o, c, k, k]);
  const gy = dl.randn([n, o, convOut(h, k, stride, padding), convOut(width, k, stride, padding)]);
  return { x, w, gy, opts: { stride, padding } };
}

/**
 * Wait for `t` to be computed without timing a copy of it: read back its last element (a device
 * backend has to finish the op first; on the CPU ops are synchronous anyway). PyTorch's CPU
 * results are not copied either.
 */
function done(t) {
  (t.numel > 1 ? t.reshape(-1).narrow(0, t.numel - 1, 1) : t).dataSync();
}
