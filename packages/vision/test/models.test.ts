import { describe, expect, it } from 'vitest';
import { manualSeed, randn, scope } from '@dl/tensor';
import type { Module } from '@dl/nn';
import { noGrad } from '@dl/autograd';
import { MODELS, ResNet18, ResNet9, TutorialNet } from '../src/models/index.js';

const count = (m: Module) => m.parameters().reduce((n, p) => n + p.numel, 0);

describe('models', () => {
  // Parameter counts of the same architectures in PyTorch (sum(p.numel() for p in net.parameters())).
  it('the tutorial ConvNet has PyTorch tutorial\'s 62,006 parameters and maps [N,3,32,32] to [N,10]', () => {
    manualSeed(0);
    const net = new TutorialNet();
    expect(count(net)).toBe(62006);
    expect(net.namedParameters().map(([k]) => k)).toEqual(['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias']);
    const y = noGrad(() => scope(() => net.forward(randn([2, 3, 32, 32]))));
    expect(y.shape).toEqual([2, 10]);
  });

  it('ResNet-9 (DAWNBench) has 6,573,120 parameters; ResNet-18 (CIFAR) 11,173,962', () => {
    // 6,573,120 = convs 64*27 + 128*576 + 2*128*1152 + 256*1152 + 512*2304 + 2*512*4608, BN 2*(64+128*3+256+512*3), fc 5120
    expect(count(new ResNet9())).toBe(6573120);
    expect(count(new ResNet18())).toBe(11173962);
  });

  it('ResNet-9 forward on a small batch gives [N, 10] in train and eval mode', () => {
    const net = MODELS.resnet9();
    const x = randn([2, 3, 32, 32]);
    expect(noGrad(() => scope(() => net.forward(x))).shape).toEqual([2, 10]);
    net.eval();
    expect(noGrad(() => scope(() => net.forward(x))).shape).toEqual([2, 10]);
  });
});
