import * as tensorLib from '@dl/tensor';
import { noGrad } from '@dl/autograd';
import * as nn from '@dl/nn';
import * as optim from '@dl/optim';
import { KERNELS } from './cases.mjs';
const dl = { ...tensorLib, nn, optim, noGrad };
const kind = process.argv[2] ?? 'convnetTrain';
const n = Number(process.argv[3] ?? 128);
const k = dl.scope(() => KERNELS[kind](dl, { n }));
for (let i = 0; i < 5; i++) k.step();
const iters = Number(process.argv[4] ?? 40);
for (let r = 0; r < 3; r++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < iters; i++) k.step();
  const ms = (performance.now() - t0) / iters;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1000 / iters;
  console.log(`${kind} n=${n}: ${ms.toFixed(2)} ms/step wall (${(n / ms * 1000).toFixed(0)} images/s), ${cpu.toFixed(2)} ms CPU/step`);
}
