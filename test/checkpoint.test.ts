import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultGenerator, loadState, manualSeed, randint, randn, saveState, scope } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { Conv2d, Dropout, F, Linear, MaxPool2d, Module } from '@dl/nn';
import { SGD, lrScheduler } from '@dl/optim';

/** The tutorial ConvNet, with dropout so that the RNG state matters too. */
class Net extends Module {
  conv1 = new Conv2d(3, 6, 5);
  pool = new MaxPool2d(2, 2);
  conv2 = new Conv2d(6, 16, 5);
  fc1 = new Linear(400, 120);
  drop = new Dropout(0.2);
  fc2 = new Linear(120, 10);
  override forward(x: Tensor): Tensor {
    x = this.pool.forward(F.relu(this.conv1.forward(x)));
    x = this.pool.forward(F.relu(this.conv2.forward(x)));
    return this.fc2.forward(this.drop.forward(F.relu(this.fc1.forward(x.flatten(1)))));
  }
}

function setup() {
  const net = new Net();
  const opt = new SGD(net.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const sched = new lrScheduler.StepLR(opt, { stepSize: 2, gamma: 0.5 });
  return { net, opt, sched };
}

type Run = ReturnType<typeof setup>;

/** One step on a batch drawn from the default generator (so data depends on the RNG state too). */
function trainStep({ net, opt, sched }: Run): void {
  scope(() => {
    const x = randn([8, 3, 32, 32]);
    const y = randint(0, 10, [8]);
    opt.zeroGrad();
    F.crossEntropy(net.forward(x), y).backward();
    opt.step();
    sched.step();
  });
}

const weights = (net: Module) => Object.fromEntries(Object.entries(net.stateDict()).map(([k, t]) => [k, Array.from(t.dataSync())]));

const dir = mkdtempSync(join(tmpdir(), 'dl-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checkpoint round trip', () => {
  it('train, save (model, optimizer, scheduler, epoch, RNG), load into fresh objects, continue: bit-identical to an uninterrupted run', () => {
    manualSeed(1);
    const a = setup();
    for (let i = 0; i < 6; i++) trainStep(a);
    const uninterrupted = weights(a.net);

    manualSeed(1);
    const b = setup();
    for (let i = 0; i < 3; i++) trainStep(b);
    const path = join(dir, 'ckpt.safetensors');
    saveState(path, { model: b.net.stateDict(), optimizer: b.opt.stateDict(), scheduler: b.sched.stateDict(), epoch: 3, rng: defaultGenerator.getState() });

    manualSeed(999); // a different stream and different fresh weights: everything must come from the file
    const c = setup();
    const ckpt = loadState(path) as { model: Record<string, Tensor>; optimizer: never; scheduler: never; epoch: number; rng: Uint32Array };
    c.net.loadStateDict(ckpt.model);
    c.opt.loadStateDict(ckpt.optimizer);
    c.sched.loadStateDict(ckpt.scheduler);
    defaultGenerator.setState(ckpt.rng);
    expect(ckpt.epoch).toBe(3);
    for (let i = 0; i < 3; i++) trainStep(c);

    expect(weights(c.net)).toEqual(uninterrupted);
    expect(c.opt.paramGroups[0].lr).toBe(a.opt.paramGroups[0].lr);
  });
});
