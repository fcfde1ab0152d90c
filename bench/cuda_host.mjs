#!/usr/bin/env node
// The host side of a CUDA training step, measured without a GPU: the tutorial ConvNet's SGD step
// at batch 128 on the emulated CUDA device (the addon built with DL_CUDA=emulate, see
// packages/tensor/native/README.md), told by DL_CUDA_EMU_DISCARD=1 to drop the work it is given.
// The time per step is then what the host spends to issue it: the module, autograd, dispatch, the
// CUDA backend's launch encoding and the addon's launch calls (the emulator's launch in place of
// the driver's). On a GPU a step costs at least this, or the device time, whichever is larger.
//
//   DL_NATIVE_PATH=packages/tensor/native/build/Emulated/dl_native.node \
//   DL_CUDA_EMU_LIBS=packages/tensor/native/build/Emulated DL_CUDA_EMU_DISCARD=1 \
//     node bench/cuda_host.mjs [--batch 128] [--warmup-steps 2000] [--steps 400] [--repeats 7]
//
// bench/run.mjs runs it so; it prints one JSON line: { batch, median_ms, samples_ms, steps, warmup_steps }.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import * as T from '@dl/tensor';
import { F } from '@dl/nn';
import { SGD } from '@dl/optim';
import { models } from '@dl/vision';

const { values: opt } = parseArgs({
  options: {
    batch: { type: 'string', default: '128' },
    'warmup-steps': { type: 'string', default: '2000' },
    steps: { type: 'string', default: '400' },
    repeats: { type: 'string', default: '7' },
  },
});
const [batch, warmup, steps, repeats] = [opt.batch, opt['warmup-steps'], opt.steps, opt.repeats].map(Number);

const status = T.cuda.probe();
if (!status.available) throw new Error(`cuda_host: CUDA is not available (${status.reason}); run it with DL_NATIVE_PATH naming the emulated addon, native/build/Emulated/dl_native.node`);
if (!status.probe?.emulated) throw new Error('cuda_host: this addon drives a real GPU; scripts/device measures steps there');
if (process.env.DL_CUDA_EMU_DISCARD !== '1') throw new Error('cuda_host: set DL_CUDA_EMU_DISCARD=1, else the emulated stream keeps every step\'s work queued in memory and that is timed too');

T.manualSeed(0);
const x = T.randn([batch, 3, 32, 32]).to('cuda');
const y = T.randint(0, 10, [batch], { dtype: 'int32' }).to('cuda');
const net = new models.TutorialNet().to('cuda');
const optimizer = new SGD(net.parameters(), { lr: 0.001, momentum: 0.9 });
const step = () =>
  T.scope(() => {
    optimizer.zeroGrad();
    F.crossEntropy(net.forward(x), y).backward();
    optimizer.step();
  });

// V8 compiles the hot paths over the first thousand or so steps; time only after that.
for (let i = 0; i < warmup; i++) step();
const samples = [];
for (let r = 0; r < repeats; r++) {
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  samples.push((performance.now() - t0) / steps);
}
const sorted = [...samples].sort((a, b) => a - b);
const median = sorted.length % 2 ? sorted[sorted.length >> 1] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
console.log(JSON.stringify({ batch, median_ms: median, samples_ms: samples, steps, warmup_steps: warmup }));
