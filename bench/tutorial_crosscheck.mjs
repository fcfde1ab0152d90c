#!/usr/bin/env node
// Our side of the tutorial-recipe cross-check (bench/tutorial_crosscheck.py is PyTorch's).
//
// Both sides train the tutorial ConvNet (SGD lr 0.001 momentum 0.9, batch 128, CrossEntropyLoss,
// Normalize(0.5, 0.5)) from the SAME initial weights over the SAME batches; an equivalent
// implementation agrees with PyTorch to float32 round-off, a systematic difference parts from
// step 1. Our side uses the BUILT packages (`pnpm build` first) and the trainer's own pipeline:
// datasets.CIFAR10 + PILToTensor through a DataLoader, x / 255 then batched.normalize, the
// vision TutorialNet, nn.CrossEntropyLoss and optim.SGD (apps/cifar-trainer/src/train.ts).
//
//   node bench/tutorial_crosscheck.mjs export DIR --seed S [--epochs E]
//       our initial weights and batch order exactly as the trainer draws them for --seed S
//       (manualSeed(S) then TutorialNet; each epoch's order as DataLoader(shuffle: true)) to
//       DIR/init.safetensors and DIR/order.bin (int32)
//   node bench/tutorial_crosscheck.mjs run DATA DIR [--steps K]
//       K steps from DIR/init.safetensors over DIR/order.bin; writes DIR/ours.json and
//       DIR/ours_final.safetensors
//   node bench/tutorial_crosscheck.mjs compare DIR
//       per-step loss differences and final-weight differences between DIR/ours.json and
//       DIR/torch.json (and their _final.safetensors)
//   node bench/tutorial_crosscheck.mjs init-stats [--seeds N]
//       per-layer statistics of our default initialisation over N seeds, as JSON
//
// A full check, torch's initialisation and order (DATA: the folder holding cifar-10-batches-bin/):
//   /usr/bin/python3 bench/tutorial_crosscheck.py export /tmp/xc --seed 0
//   /usr/bin/python3 bench/tutorial_crosscheck.py run DATA /tmp/xc --steps 391
//   node bench/tutorial_crosscheck.mjs run DATA /tmp/xc --steps 391
//   node bench/tutorial_crosscheck.mjs compare /tmp/xc
// (or start with `node bench/tutorial_crosscheck.mjs export` for ours).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { noGrad } from '@dl/autograd';
import { DataLoader } from '@dl/data';
import { CrossEntropyLoss, F } from '@dl/nn';
import { SGD } from '@dl/optim';
import { doctor, loadSafetensors, manualSeed, saveSafetensors, scope, tensor } from '@dl/tensor';
import { datasets, models, transforms } from '@dl/vision';

const BATCH = 128;
const TRAIN_N = 50000;
const MEAN = [0.5, 0.5, 0.5];
const STD = [0.5, 0.5, 0.5];

const { positionals, values: opt } = parseArgs({
  allowPositionals: true,
  options: {
    seed: { type: 'string', default: '0' },
    epochs: { type: 'string', default: '1' },
    steps: { type: 'string', default: '391' },
    seeds: { type: 'string', default: '100' },
  },
});

/** The trainer's normalisation (data.ts trainBatch / normalizeBatch without augmentation). */
function toInput(images) {
  return transforms.batched.normalize(images.to('float32').div(255), MEAN, STD);
}

function evaluate(model, images, labels) {
  const n = labels.shape[0];
  let loss = 0;
  let correct = 0;
  model.eval();
  noGrad(() => {
    for (let start = 0; start < n; start += 100) {
      scope(() => {
        const y = labels.narrow(0, start, 100);
        const logits = model.forward(toInput(images.narrow(0, start, 100)));
        loss += F.crossEntropy(logits, y, { reduction: 'sum' }).item();
        correct += logits.argmax(1).eq(y).sum().item();
      });
    }
  });
  model.train();
  return { loss: loss / n, accuracy: correct / n };
}

async function cmdExport(dir) {
  const seed = Number(opt.seed);
  const epochs = Number(opt.epochs);
  mkdirSync(dir, { recursive: true });
  manualSeed(seed);
  const model = models.MODELS.tutorial(10);
  saveSafetensors(join(dir, 'init.safetensors'), model.stateDict());
  // Each epoch's order as DataLoader(shuffle: true) draws it from the default generator (the
  // trainer draws the same; test/torch-parity.test.ts checks both against PyTorch's).
  const epochsOfIndices = new DataLoader({ length: TRAIN_N, getItem: (i) => i }, { batchSize: TRAIN_N, shuffle: true });
  const order = new Int32Array(epochs * TRAIN_N);
  for (let e = 0; e < epochs; e++) {
    for await (const perm of epochsOfIndices) {
      order.set(Int32Array.from(perm.dataSync(), Number), e * TRAIN_N);
      perm.dispose();
    }
  }
  writeFileSync(join(dir, 'order.bin'), order);
  console.log(JSON.stringify({ seed, epochs, dir }));
}

async function cmdRun(data, dir) {
  const trainSet = new datasets.CIFAR10(data, { train: true, transform: new transforms.PILToTensor() });
  const testSet = new datasets.CIFAR10(data, { train: false });
  const test = { images: tensor(testSet.data, { shape: [testSet.length, 3, 32, 32], dtype: 'uint8' }), labels: tensor(testSet.targets, { shape: [testSet.length], dtype: 'int32' }) };
  const buf = readFileSync(join(dir, 'order.bin'));
  const order = new Int32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const perEpoch = Math.ceil(TRAIN_N / BATCH);
  const steps = Math.min(Number(opt.steps), Math.floor(order.length / TRAIN_N) * perEpoch);
  const batches = Array.from({ length: steps }, (_, s) => {
    const start = Math.floor(s / perEpoch) * TRAIN_N + (s % perEpoch) * BATCH;
    const epochEnd = Math.floor(s / perEpoch) * TRAIN_N + TRAIN_N;
    return Array.from(order.subarray(start, Math.min(start + BATCH, epochEnd)));
  });

  const model = models.MODELS.tutorial(10);
  const loaded = model.loadStateDict(loadSafetensors(join(dir, 'init.safetensors')).tensors);
  if (loaded.missingKeys?.length || loaded.unexpectedKeys?.length) throw new Error(`state dict mismatch: ${JSON.stringify(loaded)}`);
  const optimizer = new SGD(model.parameters(), { lr: 0.001, momentum: 0.9 });
  const criterion = new CrossEntropyLoss();
  const before = evaluate(model, test.images, test.labels);
  model.train();
  const losses = [];
  let firstInputSum = null;
  for await (const [images, labels] of new DataLoader(trainSet, { batchSampler: batches })) {
    scope(() => {
      const x = toInput(images);
      if (firstInputSum === null) firstInputSum = x.to('float64').sum().item();
      const loss = criterion.forward(model.forward(x), labels);
      optimizer.zeroGrad();
      loss.backward();
      optimizer.step();
      losses.push(loss.item());
    });
    images.dispose();
    labels.dispose();
  }
  const after = evaluate(model, test.images, test.labels);
  saveSafetensors(join(dir, 'ours_final.safetensors'), model.stateDict());
  const counts = new Array(10).fill(0);
  for (const y of trainSet.targets) counts[y]++;
  const sum = (a) => a.reduce((s, v) => s + v, 0);
  const out = {
    backend: doctor().cpu.backend,
    steps,
    losses,
    before,
    after,
    checksums: { trainPixelSum: sum(trainSet.data), testPixelSum: sum(testSet.data), trainLabelCounts: counts, firstInputSum },
  };
  writeFileSync(join(dir, 'ours.json'), JSON.stringify(out));
  console.log(JSON.stringify({ backend: out.backend, steps, before, after, lastLoss: losses.at(-1) }));
}

function cmdCompare(dir) {
  const ours = JSON.parse(readFileSync(join(dir, 'ours.json'), 'utf8'));
  const torch = JSON.parse(readFileSync(join(dir, 'torch.json'), 'utf8'));
  const n = Math.min(ours.losses.length, torch.losses.length);
  const diffs = Array.from({ length: n }, (_, i) => Math.abs(ours.losses[i] - torch.losses[i]));
  const at = (k) => (k <= n ? { step: k, ours: ours.losses[k - 1], torch: torch.losses[k - 1], absDiff: diffs[k - 1] } : null);
  const windows = [];
  for (let lo = 0; lo < n; lo += 50) {
    const w = diffs.slice(lo, lo + 50);
    windows.push({ steps: `${lo + 1}-${lo + w.length}`, maxAbsDiff: Math.max(...w), meanSigned: ours.losses.slice(lo, lo + 50).reduce((s, v, i) => s + v - torch.losses[lo + i], 0) / w.length });
  }
  const a = loadSafetensors(join(dir, 'ours_final.safetensors')).tensors;
  const b = loadSafetensors(join(dir, 'torch_final.safetensors')).tensors;
  const init = loadSafetensors(join(dir, 'init.safetensors')).tensors;
  const weights = {};
  for (const k of Object.keys(b)) {
    const x = a[k].dataSync();
    const y = b[k].dataSync();
    const z = init[k].dataSync();
    let d2 = 0;
    let n2 = 0;
    let m2 = 0;
    let maxAbs = 0;
    for (let i = 0; i < y.length; i++) {
      d2 += (x[i] - y[i]) ** 2;
      n2 += y[i] ** 2;
      m2 += (y[i] - z[i]) ** 2;
      maxAbs = Math.max(maxAbs, Math.abs(x[i] - y[i]));
    }
    // relDiff: |ours - torch| / |torch|; relToUpdate: |ours - torch| / |torch - init| (how much of the trained change differs)
    weights[k] = { maxAbsDiff: maxAbs, relDiff: Math.sqrt(d2 / n2), relToUpdate: Math.sqrt(d2 / m2) };
  }
  const report = {
    backend: ours.backend,
    steps: n,
    checksumsEqual: JSON.stringify({ ...ours.checksums, firstInputSum: null }) === JSON.stringify({ ...torch.checksums, firstInputSum: null }),
    checksums: { ours: ours.checksums, torch: torch.checksums },
    loss: { first: at(1), step10: at(10), step100: at(100), last: at(n), maxAbsDiff: Math.max(...diffs), windows },
    weights,
    test: { ours: { before: ours.before, after: ours.after }, torch: { before: torch.before, after: torch.after } },
  };
  console.log(JSON.stringify(report, null, 2));
}

function cmdInitStats() {
  const per = {};
  for (let seed = 0; seed < Number(opt.seeds); seed++) {
    manualSeed(seed);
    for (const [k, t] of Object.entries(models.MODELS.tutorial(10).stateDict())) {
      per[k] = per[k] ?? [];
      per[k].push(Float64Array.from(t.dataSync()));
    }
  }
  const out = {};
  for (const [k, arrays] of Object.entries(per)) {
    let n = 0;
    let s = 0;
    let s2 = 0;
    let abs = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const a of arrays) {
      for (const v of a) {
        n++;
        s += v;
        s2 += v * v;
        abs += Math.abs(v);
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    const mean = s / n;
    out[k] = { n, mean, std: Math.sqrt(s2 / n - mean * mean), min, max, absMean: abs / n };
  }
  console.log(JSON.stringify(out));
}

const [cmd, ...args] = positionals;
if (cmd === 'export' && args.length === 1) await cmdExport(args[0]);
else if (cmd === 'run' && args.length === 2) await cmdRun(args[0], args[1]);
else if (cmd === 'compare' && args.length === 1) cmdCompare(args[0]);
else if (cmd === 'init-stats' && args.length === 0) cmdInitStats();
else {
  console.error('usage: tutorial_crosscheck.mjs export DIR --seed S [--epochs E] | run DATA DIR [--steps K] | compare DIR | init-stats [--seeds N]');
  process.exit(2);
}
