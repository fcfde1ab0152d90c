import { describe, expect, it } from 'vitest';
import { Generator, manualSeed, memoryStats, randn, scope, tensor, zerosLike } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { noGrad } from '@dl/autograd';
import { Conv2d, F, Linear, MaxPool2d, Module } from '../src/index.js';

/** The CIFAR-10 tutorial network ("Training a Classifier"). */
class Net extends Module {
  conv1 = new Conv2d(3, 6, 5);
  pool = new MaxPool2d(2, 2);
  conv2 = new Conv2d(6, 16, 5);
  fc1 = new Linear(16 * 5 * 5, 120);
  fc2 = new Linear(120, 84);
  fc3 = new Linear(84, 10);

  override forward(x: Tensor): Tensor {
    x = this.pool.forward(F.relu(this.conv1.forward(x)));
    x = this.pool.forward(F.relu(this.conv2.forward(x)));
    x = x.flatten(1);
    x = F.relu(this.fc1.forward(x));
    x = F.relu(this.fc2.forward(x));
    return this.fc3.forward(x);
  }
}

const CLASSES = 10;
const N = 200;

/** 10 classes, each a fixed random 3x32x32 pattern; every image is its class pattern plus noise. */
function syntheticImages(noise: number, n: number, noiseSeed: number): { images: Tensor; labels: Tensor } {
  const patterns = randn([CLASSES, 3, 32, 32], { generator: new Generator(2024) });
  const labels = tensor(Int32Array.from({ length: n }, (_, i) => i % CLASSES));
  const images = scope(() => patterns.indexSelect(0, labels).add(randn([n, 3, 32, 32], { generator: new Generator(noiseSeed) }).mul(noise)));
  patterns.dispose();
  return { images, labels };
}

describe('the tutorial ConvNet', () => {
  it('learns a synthetic 10-class image task to >= 95% training accuracy with SGD + momentum, with flat memory', () => {
    manualSeed(0);
    const net = new Net();
    const { images, labels } = syntheticImages(1, N, 2024);
    const heldOut = syntheticImages(1, 100, 7);
    const params = net.parameters();
    // SGD with momentum written out (PyTorch's rule: v = momentum * v + grad; p -= lr * v).
    const velocity = params.map((p) => noGrad(() => zerosLike(p)));
    const lr = 0.02;
    const momentum = 0.9;
    const batch = 20;

    const accuracy = (x: Tensor, y: Tensor) => noGrad(() => scope(() => net.forward(x).argmax(1).eq(y).to('float32').mean().item()));
    const step = (start: number) =>
      scope(() => {
        const x = images.narrow(0, start, batch);
        const y = labels.narrow(0, start, batch);
        net.zeroGrad();
        const loss = F.crossEntropy(net.forward(x), y);
        loss.backward();
        noGrad(() => {
          params.forEach((p, i) => {
            velocity[i].mul_(momentum).add_(p.grad!);
            p.sub_(velocity[i].mul(lr));
          });
        });
        return loss.item();
      });

    const initialAcc = accuracy(images, labels);
    expect(initialAcc).toBeLessThan(0.5);
    const mem: { liveTensors: number; liveBytes: number }[] = [];
    const losses: number[] = [];
    let acc = initialAcc;
    while (acc < 0.95 && losses.length < 20) {
      let sum = 0;
      for (let s = 0; s < N; s += batch) {
        sum += step(s);
        const m = memoryStats();
        mem.push({ liveTensors: m.liveTensors, liveBytes: m.liveBytes });
      }
      losses.push(sum / (N / batch));
      acc = accuracy(images, labels);
    }
    expect(acc).toBeGreaterThanOrEqual(0.95);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    // It learned the patterns, not the particular noise.
    expect(accuracy(heldOut.images, heldOut.labels)).toBeGreaterThanOrEqual(0.9);
    // Each step runs in scope(): what is live after every step is the same
    // (parameters, their grads, the velocities and the data).
    expect(mem.length).toBeGreaterThan(10);
    for (const m of mem) expect(m).toEqual(mem[0]);
    expect(mem[0].liveTensors).toBe(3 * params.length + 4);
  }, 120_000);
});
