import { describe, expect, it } from 'vitest';
import { type Tensor, manualSeed, randint, randn, scope } from '@dl/tensor';
import { CrossEntropyLoss, type Module } from '@dl/nn';
import { noGrad } from '@dl/autograd';
import { MODELS, ResNet18, ResNet9, TutorialNet, VisionTransformer } from '../src/models/index.js';

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

  it('VisionTransformer: 1,806,538 parameters by default (counted by hand below), torchvision-style initialisation, [N, 10] logits', () => {
    manualSeed(0);
    const net = new VisionTransformer();
    // convProj 192*48 + 192, class token 192, position embeddings 65*192, per layer: attention
    // 3*192*192 + 3*192 + 192*192 + 192, MLP 192*384 + 384 + 384*192 + 192, two LayerNorms 4*192;
    // final LayerNorm 2*192, head 192*10 + 10.
    const perLayer = 4 * 192 * 192 + 4 * 192 + 2 * 192 * 384 + 384 + 192 + 4 * 192;
    expect(count(net)).toBe(192 * 48 + 192 + 192 + 65 * 192 + 6 * perLayer + 2 * 192 + 1930);
    expect(count(net)).toBe(1806538);
    const sd = net.stateDict();
    expect(Array.from(sd['head.weight'].dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(sd.classToken.dataSync()).every((v) => v === 0)).toBe(true);
    // torchvision's trunc_normal_(std = sqrt(1 / fanIn)) keeps the default bounds [-2, 2]: about 14 std here.
    const rms = (t: Tensor) => Math.sqrt(Array.from(t.dataSync()).reduce((a, v) => a + v * v, 0) / t.numel);
    expect(rms(sd['convProj.weight']) / Math.sqrt(1 / 48)).toBeCloseTo(1, 1);
    expect(rms(sd.posEmbedding) / 0.02).toBeCloseTo(1, 1);
    expect(noGrad(() => scope(() => net.forward(randn([2, 3, 32, 32])))).shape).toEqual([2, 10]);
    expect(() => net.forward(randn([2, 3, 28, 28]))).toThrow(/expected images of shape \[N, 3, 32, 32\]; got \[2, 3, 28, 28\]/);
    expect(() => new VisionTransformer({ patchSize: 5 })).toThrow(/multiple of patchSize/);
  });

  it('a small VisionTransformer learns: gradient descent drives the loss on a fixed batch well down', () => {
    manualSeed(1);
    const net = new VisionTransformer({ imageSize: 8, patchSize: 4, numLayers: 2, numHeads: 2, hiddenDim: 16, mlpDim: 32, numClasses: 3 });
    const x = randn([12, 3, 8, 8]);
    const y = randint(0, 3, [12]);
    const loss = new CrossEntropyLoss();
    const step = () =>
      scope(() => {
        net.zeroGrad();
        const l = loss.forward(net.forward(x), y);
        l.backward();
        noGrad(() => {
          for (const p of net.parameters()) p.sub_((p.grad as Tensor).mul(0.2));
        });
        return l.item();
      });
    const first = step();
    expect(first).toBeCloseTo(Math.log(3), 5); // the zero head: uniform predictions
    let last = first;
    for (let i = 0; i < 200; i++) last = step();
    expect(last).toBeLessThan(0.1 * first);
  });
});
