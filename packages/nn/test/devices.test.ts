/**
 * Modules on other devices. What moving a module means (parameters and buffers replaced on the
 * target, optimizers built afterwards see them, state dicts saved from any device are the same
 * bytes, loading copies across devices) runs on the 'reference' device everywhere and on
 * 'cuda' with a GPU. CUDA forward and backward of every layer and loss are compared with the
 * CPU; those tests skip, with the reason in their names, without a GPU.
 */

import { noGrad } from '@dl/autograd';
import { cat, type Device, DLError, encodeState, Generator, isFloating, manualSeed, randint, randn, scope, type Tensor, tensor } from '@dl/tensor';
import { assertClose, cudaTestNames } from '@dl/tensor/testing';
import { describe, expect, it } from 'vitest';
import {
  AdaptiveAvgPool1d,
  AdaptiveAvgPool2d,
  AdaptiveMaxPool1d,
  AdaptiveMaxPool2d,
  AvgPool1d,
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  BCELoss,
  BCEWithLogitsLoss,
  Bilinear,
  Conv1d,
  Conv2d,
  ConvTranspose2d,
  CosineEmbeddingLoss,
  CrossEntropyLoss,
  Dropout,
  ELU,
  Embedding,
  EmbeddingBag,
  Flatten,
  Fold,
  GaussianNLLLoss,
  GELU,
  GroupNorm,
  GRU,
  Hardswish,
  HuberLoss,
  KLDivLoss,
  L1Loss,
  LayerNorm,
  LeakyReLU,
  Linear,
  LogSoftmax,
  LSTM,
  MaxPool1d,
  MaxPool2d,
  MaxUnpool1d,
  MaxUnpool2d,
  Mish,
  Module,
  MSELoss,
  MultiLabelMarginLoss,
  MultiLabelSoftMarginLoss,
  MultiMarginLoss,
  MultiheadAttention,
  NLLLoss,
  PoissonNLLLoss,
  Transformer,
  TransformerDecoderLayer,
  TransformerEncoder,
  TransformerEncoderLayer,
  PReLU,
  ReLU,
  RNN,
  Sequential,
  Sigmoid,
  SiLU,
  SmoothL1Loss,
  Softmax,
  Tanh,
  TripletMarginLoss,
  Unflatten,
  Unfold,
  Upsample,
  CELU,
  CosineSimilarity,
  GLU,
  InstanceNorm2d,
  InstanceNorm3d,
  LogSigmoid,
  PixelShuffle,
  PixelUnshuffle,
  ReflectionPad2d,
  SELU,
  Softmin,
  Softshrink,
  Tanhshrink,
} from '../src/index.js';

const { status, gpu, needsGpu, withoutGpu } = cudaTestNames();
const DEVICES: Device[] = ['reference', ...(gpu ? (['cuda'] as const) : [])];

/** A small ConvNet with a BatchNorm (parameters and buffers). */
function convNet(): Module {
  return new Sequential(new Conv2d(3, 4, 3, { padding: 1 }), new BatchNorm2d(4), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(4 * 4 * 4, 5));
}

describe('Module.to(device)', () => {
  for (const device of DEVICES) {
    it(`${device}: parameters move in place (same objects, values, requiresGrad, gradients), buffers move, and references taken before to() see the device`, () => {
      manualSeed(0);
      const net = convNet();
      const x = randn([2, 3, 8, 8]);
      net.forward(x).sum().backward(); // gradients on the CPU, to move with their parameters
      const before = net.parameters();
      const values = before.map((p) => Array.from(p.dataSync()));
      const grads = before.map((p) => p.grad);
      const gradValues = before.map((p) => Array.from((p.grad as Tensor).dataSync()));
      expect(net.to(device)).toBe(net);
      const after = net.parameters();
      const dev = device === 'cuda' ? 'cuda:0' : device;
      after.forEach((p, i) => {
        expect(p).toBe(before[i]);
        expect(p.isDisposed).toBe(false);
        expect(p.device).toBe(dev);
        expect(p.requiresGrad).toBe(true);
        expect(Array.from(p.dataSync())).toEqual(values[i]);
        expect(p.grad).toBe(grads[i]);
        expect(p.grad?.device).toBe(dev);
        expect(Array.from((p.grad as Tensor).dataSync())).toEqual(gradValues[i]);
      });
      for (const b of net.buffers()) expect(b.device).toBe(dev);
      // An optimizer-style update through the references held from before reaches the module.
      const xd = x.to(device);
      const y0 = net.forward(xd).sum().item();
      noGrad(() => before[before.length - 1].add_(1)); // the last Linear's bias: 5 outputs per image
      expect(net.forward(xd).sum().item()).toBeCloseTo(y0 + 2 * 5, 3);
      net.zeroGrad();
      net.forward(xd).sum().backward();
      for (const p of before) expect(p.grad?.device).toBe(dev);
    });

    it(`${device}: tied parameters stay one object after to(), and to() back to the CPU restores the values`, () => {
      manualSeed(3);
      const a = new Linear(4, 4);
      const b = new Linear(4, 4);
      b.weight = a.weight;
      const net = new Sequential(a, b);
      const w = a.weight;
      const values = Array.from(w.dataSync());
      net.to(device);
      expect(a.weight).toBe(w);
      expect(b.weight).toBe(w);
      expect(net.parameters().filter((p) => p === w)).toHaveLength(1);
      net.cpu();
      expect(w.device).toBe('cpu');
      expect(Array.from(w.dataSync())).toEqual(values);
    });

    it(`${device}: a state dict saved from the device is byte for byte the one saved on the CPU, and loads back across devices`, () => {
      manualSeed(1);
      const net = convNet();
      noGrad(() => net.forward(randn([2, 3, 8, 8]))); // running stats move away from their initial values
      const onCpu = encodeState(net.stateDict());
      net.to(device);
      expect(Buffer.from(encodeState(net.stateDict())).equals(Buffer.from(onCpu))).toBe(true);
      manualSeed(2);
      const other = convNet().to(device);
      other.loadStateDict(convNet().stateDict()); // a CPU state dict into a module on the device
      const back = convNet();
      back.loadStateDict(net.stateDict()); // a device state dict into a CPU module
      expect(Buffer.from(encodeState(back.stateDict())).equals(Buffer.from(onCpu))).toBe(true);
    });
  }

  it.skipIf(gpu)(withoutGpu("without CUDA, to('cuda') names the reason and leaves the module on the CPU"), () => {
    const net = convNet();
    let error: unknown;
    try {
      net.cuda();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DLError);
    expect((error as DLError).code).toBe('DEVICE');
    expect((error as DLError).message).toContain(status.reason);
    for (const p of net.parameters()) expect(p.device).toBe('cpu');
    expect(net.forward(randn([1, 3, 8, 8])).shape).toEqual([1, 5]);
  });
});

interface LayerCase {
  name: string;
  make: () => Module;
  /** Inputs made on the CPU; floating ones get gradients. */
  inputs: (g: Generator) => Tensor[];
}

const x4 = (g: Generator, shape: number[]) => randn(shape, { generator: g });
/** A recurrent layer whose output and final states come out as one flat tensor (forwardBackward takes one tensor). */
class FlatRecurrent extends Module {
  rnn: Module;
  constructor(rnn: Module) {
    super();
    this.rnn = rnn;
  }
  override forward(...inputs: Tensor[]): Tensor {
    const outs = [this.rnn.forward(...inputs)].flat(2) as Tensor[];
    return cat(outs.map((t) => t.flatten()));
  }
}
/** MultiheadAttention as self-attention, returning the output only (forwardBackward takes one tensor). */
class SelfAttention extends Module {
  attn = new MultiheadAttention(8, 2, { addBiasKv: true });
  override forward(x: Tensor, keyPaddingMask: Tensor): Tensor {
    return this.attn.forward(x, x, x, { keyPaddingMask })[0];
  }
}

/** A max pool with returnIndices, then its unpool back to the input's size (one tensor out, gradients through both). */
class PoolUnpool extends Module {
  pool: Module;
  unpool: Module;
  constructor(pool: Module, unpool: Module) {
    super();
    this.pool = pool;
    this.unpool = unpool;
  }
  override forward(x: Tensor): Tensor {
    const [values, indices] = this.pool.forward(x) as [Tensor, Tensor];
    return this.unpool.forward(values, indices, x.shape);
  }
}
/** A max pool with returnIndices: its values and its indices (as floats) in one flat tensor. */
class PoolWithIndices extends Module {
  pool: Module;
  constructor(pool: Module) {
    super();
    this.pool = pool;
  }
  override forward(x: Tensor): Tensor {
    const [values, indices] = this.pool.forward(x) as [Tensor, Tensor];
    return cat([values.flatten(), indices.to(values.dtype).flatten()]);
  }
}

const LAYERS: LayerCase[] = [
  { name: 'MultiheadAttention, key padding mask, addBiasKv', make: () => new SelfAttention(), inputs: (g) => [x4(g, [4, 2, 8]), tensor([[false, false, true, true], [false, false, false, false]])] },
  { name: 'TransformerEncoderLayer, pre-norm, gelu', make: () => new TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, activation: 'gelu', normFirst: true }), inputs: (g) => [x4(g, [5, 2, 8])] },
  { name: 'TransformerDecoderLayer, post-norm, relu', make: () => new TransformerDecoderLayer(8, 2, { dimFeedforward: 16, dropout: 0 }), inputs: (g) => [x4(g, [4, 2, 8]), x4(g, [5, 2, 8])] },
  {
    name: 'Transformer with a custom encoder',
    make: () => new Transformer({ dModel: 8, nhead: 2, numDecoderLayers: 1, dimFeedforward: 16, dropout: 0, customEncoder: new TransformerEncoder(new TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0 }), 1) }),
    inputs: (g) => [x4(g, [5, 2, 8]), x4(g, [4, 2, 8])],
  },
  { name: 'Linear', make: () => new Linear(5, 3), inputs: (g) => [x4(g, [4, 5])] },
  { name: 'Bilinear', make: () => new Bilinear(3, 4, 5), inputs: (g) => [x4(g, [6, 3]), x4(g, [6, 4])] },
  { name: 'EmbeddingBag max, offsets with an empty bag, paddingIdx', make: () => new EmbeddingBag(10, 4, { mode: 'max', paddingIdx: 0 }), inputs: (g) => [randint(0, 10, [9], { generator: g }), tensor(Int32Array.from([0, 4, 4, 7]))] },
  { name: 'EmbeddingBag sum, perSampleWeights, includeLastOffset', make: () => new EmbeddingBag(10, 4, { mode: 'sum', includeLastOffset: true }), inputs: (g) => [randint(0, 10, [8], { generator: g }), tensor(Int32Array.from([0, 3, 8])), x4(g, [8])] },
  { name: 'EmbeddingBag mean, 2-D input', make: () => new EmbeddingBag(10, 4), inputs: (g) => [randint(0, 10, [3, 4], { generator: g })] },
  { name: 'Unfold then Fold, stride 2, padding 1, dilation [1, 2]', make: () => new Sequential(new Unfold(3, { stride: 2, padding: 1, dilation: [1, 2] }), new Fold([7, 8], 3, { stride: 2, padding: 1, dilation: [1, 2] })), inputs: (g) => [x4(g, [2, 3, 7, 8])] },
  { name: 'Conv2d stride 2 padding 1', make: () => new Conv2d(3, 4, 3, { stride: 2, padding: 1 }), inputs: (g) => [x4(g, [2, 3, 7, 7])] },
  { name: 'Conv2d groups 2 dilation 2 no bias', make: () => new Conv2d(4, 4, 3, { groups: 2, dilation: 2, bias: false }), inputs: (g) => [x4(g, [1, 4, 8, 8])] },
  { name: "Conv2d padding 'same', even kernel", make: () => new Conv2d(2, 3, 2, { padding: 'same' }), inputs: (g) => [x4(g, [2, 2, 5, 5])] },
  { name: 'ConvTranspose2d stride 2, output padding 1, groups 2', make: () => new ConvTranspose2d(4, 6, 3, { stride: 2, padding: 1, outputPadding: 1, groups: 2 }), inputs: (g) => [x4(g, [2, 4, 5, 5])] },
  { name: 'Conv2d reflect padding', make: () => new Conv2d(2, 3, 3, { padding: 1, paddingMode: 'reflect' }), inputs: (g) => [x4(g, [1, 2, 5, 6])] },
  { name: 'Conv1d groups 2, dilation 2, stride 2, padding 2', make: () => new Conv1d(4, 6, 3, { groups: 2, dilation: 2, stride: 2, padding: 2 }), inputs: (g) => [x4(g, [2, 4, 11])] },
  { name: "Conv1d replicate padding 'same', even kernel", make: () => new Conv1d(2, 3, 4, { padding: 'same', paddingMode: 'replicate' }), inputs: (g) => [x4(g, [2, 2, 7])] },
  { name: 'MaxPool2d', make: () => new MaxPool2d(2), inputs: (g) => [x4(g, [2, 3, 6, 6])] },
  { name: 'MaxPool2d ceil mode', make: () => new MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }), inputs: (g) => [x4(g, [2, 3, 7, 8])] },
  { name: 'AvgPool2d', make: () => new AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }), inputs: (g) => [x4(g, [2, 3, 7, 7])] },
  { name: 'AdaptiveAvgPool2d', make: () => new AdaptiveAvgPool2d(3), inputs: (g) => [x4(g, [2, 3, 7, 5])] },
  { name: 'AdaptiveMaxPool2d', make: () => new AdaptiveMaxPool2d([2, 3]), inputs: (g) => [x4(g, [2, 3, 7, 5])] },
  { name: 'MaxPool1d ceil mode, dilation 2', make: () => new MaxPool1d(3, { stride: 2, padding: 1, dilation: 2, ceilMode: true }), inputs: (g) => [x4(g, [2, 3, 10])] },
  { name: 'AvgPool1d ceil mode, countIncludePad false', make: () => new AvgPool1d(4, { stride: 3, padding: 2, ceilMode: true, countIncludePad: false }), inputs: (g) => [x4(g, [2, 3, 10])] },
  { name: 'AdaptiveAvgPool1d 7 -> 3', make: () => new AdaptiveAvgPool1d(3), inputs: (g) => [x4(g, [2, 3, 7])] },
  { name: 'AdaptiveMaxPool1d 7 -> 4, unbatched', make: () => new AdaptiveMaxPool1d(4), inputs: (g) => [x4(g, [3, 7])] },
  { name: 'MaxPool2d 3, stride 2, padding 1 with indices, then MaxUnpool2d (overlapping windows)', make: () => new PoolUnpool(new MaxPool2d(3, { stride: 2, padding: 1, returnIndices: true }), new MaxUnpool2d(3, { stride: 2, padding: 1 })), inputs: (g) => [x4(g, [2, 3, 7, 8])] },
  { name: 'MaxPool1d 3, stride 2 with indices, then MaxUnpool1d, unbatched', make: () => new PoolUnpool(new MaxPool1d(3, { stride: 2, returnIndices: true }), new MaxUnpool1d(3, 2)), inputs: (g) => [x4(g, [3, 10])] },
  { name: 'AdaptiveMaxPool2d with indices', make: () => new PoolWithIndices(new AdaptiveMaxPool2d([3, 2], { returnIndices: true })), inputs: (g) => [x4(g, [2, 3, 7, 5])] },
  { name: 'AdaptiveMaxPool1d with indices', make: () => new PoolWithIndices(new AdaptiveMaxPool1d(4, { returnIndices: true })), inputs: (g) => [x4(g, [2, 3, 10])] },
  { name: 'BatchNorm2d (train)', make: () => new BatchNorm2d(3), inputs: (g) => [x4(g, [4, 3, 5, 5])] },
  { name: 'BatchNorm1d (train)', make: () => new BatchNorm1d(4), inputs: (g) => [x4(g, [6, 4])] },
  { name: 'PReLU per channel', make: () => new PReLU(3), inputs: (g) => [x4(g, [2, 3, 4])] },
  { name: 'Mish, ELU and Hardswish', make: () => new Sequential(new Mish(), new ELU(), new Hardswish()), inputs: (g) => [x4(g, [3, 7])] },
  { name: 'GroupNorm', make: () => new GroupNorm(2, 4), inputs: (g) => [x4(g, [3, 4, 5])] },
  { name: 'Upsample bilinear', make: () => new Upsample({ size: [5, 7], mode: 'bilinear' }), inputs: (g) => [x4(g, [2, 3, 3, 4])] },
  { name: 'LayerNorm', make: () => new LayerNorm([5]), inputs: (g) => [x4(g, [3, 4, 5])] },
  { name: 'SELU, CELU, LogSigmoid, Softshrink and Tanhshrink', make: () => new Sequential(new SELU(), new CELU(0.5), new LogSigmoid(), new Softshrink(0.2), new Tanhshrink()), inputs: (g) => [x4(g, [3, 7])] },
  { name: 'GLU and Softmin', make: () => new Sequential(new GLU(1), new Softmin(1)), inputs: (g) => [x4(g, [3, 8])] },
  { name: 'InstanceNorm2d affine, trackRunningStats (train)', make: () => new InstanceNorm2d(3, { affine: true, trackRunningStats: true }), inputs: (g) => [x4(g, [2, 3, 4, 5])] },
  { name: 'InstanceNorm3d affine, trackRunningStats (train)', make: () => new InstanceNorm3d(3, { affine: true, trackRunningStats: true }), inputs: (g) => [x4(g, [2, 3, 2, 3, 4])] },
  { name: 'BatchNorm3d (train)', make: () => new BatchNorm3d(2), inputs: (g) => [x4(g, [3, 2, 2, 3, 3])] },
  { name: 'PixelShuffle, ReflectionPad2d, PixelUnshuffle', make: () => new Sequential(new PixelShuffle(2), new ReflectionPad2d([1, 1, 2, 2]), new PixelUnshuffle(2)), inputs: (g) => [x4(g, [2, 8, 3, 2])] },
  { name: 'CosineSimilarity', make: () => new CosineSimilarity(), inputs: (g) => [x4(g, [4, 6]), x4(g, [4, 6])] },
  { name: 'ReLU', make: () => new ReLU(), inputs: (g) => [x4(g, [3, 7])] },
  { name: 'LeakyReLU', make: () => new LeakyReLU(0.1), inputs: (g) => [x4(g, [3, 7])] },
  { name: 'GELU', make: () => new GELU(), inputs: (g) => [x4(g, [3, 7])] },
  { name: 'SiLU', make: () => new SiLU(), inputs: (g) => [x4(g, [3, 7])] },
  { name: 'Sigmoid', make: () => new Sigmoid(), inputs: (g) => [x4(g, [3, 7])] },
  { name: 'Tanh', make: () => new Tanh(), inputs: (g) => [x4(g, [3, 7])] },
  { name: 'Softmax', make: () => new Softmax(1), inputs: (g) => [x4(g, [3, 7])] },
  { name: 'LogSoftmax', make: () => new LogSoftmax(1), inputs: (g) => [x4(g, [3, 7])] },
  { name: 'Flatten / Unflatten', make: () => new Sequential(new Flatten(), new Unflatten(1, [5, 4])), inputs: (g) => [x4(g, [2, 4, 5])] },
  { name: 'RNN relu, 2 layers, bidirectional, batchFirst', make: () => new FlatRecurrent(new RNN(3, 4, { nonlinearity: 'relu', numLayers: 2, bidirectional: true, batchFirst: true })), inputs: (g) => [x4(g, [2, 5, 3])] },
  { name: 'LSTM, 2 layers, bidirectional, projSize 2', make: () => new FlatRecurrent(new LSTM(3, 4, { numLayers: 2, bidirectional: true, projSize: 2 })), inputs: (g) => [x4(g, [5, 2, 3])] },
  { name: 'GRU, 2 layers, bidirectional, given hx', make: () => new FlatRecurrent(new GRU(3, 4, { numLayers: 2, bidirectional: true })), inputs: (g) => [x4(g, [5, 2, 3]), x4(g, [4, 2, 4])] },
  { name: 'Embedding', make: () => new Embedding(10, 4, { paddingIdx: 0 }), inputs: (g) => [randint(0, 10, [3, 5], { generator: g })] },
  { name: 'CrossEntropyLoss, label smoothing', make: () => new CrossEntropyLoss({ labelSmoothing: 0.1 }), inputs: (g) => [x4(g, [6, 5]), randint(0, 5, [6], { generator: g })] },
  { name: 'CrossEntropyLoss, weight and ignoreIndex', make: () => new CrossEntropyLoss({ weight: tensor([1, 2, 0.5, 1, 3]), ignoreIndex: 1 }), inputs: (g) => [x4(g, [6, 5]), randint(0, 5, [6], { generator: g })] },
  { name: 'NLLLoss', make: () => new NLLLoss(), inputs: (g) => [x4(g, [6, 5]).logSoftmax(1), randint(0, 5, [6], { generator: g })] },
  { name: 'MSELoss', make: () => new MSELoss(), inputs: (g) => [x4(g, [4, 3]), x4(g, [4, 3])] },
  { name: 'L1Loss', make: () => new L1Loss(), inputs: (g) => [x4(g, [4, 3]), x4(g, [4, 3])] },
  { name: 'BCEWithLogitsLoss', make: () => new BCEWithLogitsLoss(), inputs: (g) => [x4(g, [4, 3]), randint(0, 2, [4, 3], { generator: g }).float()] },
  { name: 'BCELoss', make: () => new BCELoss(), inputs: (g) => [x4(g, [4, 3]).sigmoid(), randint(0, 2, [4, 3], { generator: g }).float()] },
  { name: 'SmoothL1Loss beta 0.5', make: () => new SmoothL1Loss({ beta: 0.5 }), inputs: (g) => [x4(g, [4, 3]), x4(g, [4, 3])] },
  { name: 'HuberLoss delta 0.8, sum', make: () => new HuberLoss({ delta: 0.8, reduction: 'sum' }), inputs: (g) => [x4(g, [4, 3]), x4(g, [4, 3])] },
  { name: 'KLDivLoss batchmean', make: () => new KLDivLoss({ reduction: 'batchmean' }), inputs: (g) => [x4(g, [4, 5]).logSoftmax(1), x4(g, [4, 5]).softmax(1)] },
  { name: 'KLDivLoss log target, none', make: () => new KLDivLoss({ reduction: 'none', logTarget: true }), inputs: (g) => [x4(g, [4, 5]).logSoftmax(1), x4(g, [4, 5]).logSoftmax(1)] },
  { name: 'CosineEmbeddingLoss margin 0.2', make: () => new CosineEmbeddingLoss({ margin: 0.2 }), inputs: (g) => [x4(g, [6, 4]), x4(g, [6, 4]), randint(0, 2, [6], { generator: g }).mul(2).sub(1)] },
  { name: 'TripletMarginLoss p 1, swap', make: () => new TripletMarginLoss({ p: 1, swap: true }), inputs: (g) => [x4(g, [5, 4]), x4(g, [5, 4]), x4(g, [5, 4])] },
  { name: 'MultiMarginLoss p 2, margin 0.5, weight', make: () => new MultiMarginLoss({ p: 2, margin: 0.5, weight: tensor([1, 2, 0.5, 1, 3]) }), inputs: (g) => [x4(g, [6, 5]), randint(0, 5, [6], { generator: g })] },
  { name: 'MultiLabelMarginLoss', make: () => new MultiLabelMarginLoss(), inputs: (g) => [x4(g, [4, 5]), randint(-1, 5, [4, 5], { generator: g })] },
  { name: 'MultiLabelSoftMarginLoss, weight', make: () => new MultiLabelSoftMarginLoss({ weight: tensor([1, 2, 0.5, 1.5]) }), inputs: (g) => [x4(g, [3, 4]).mul(5), randint(0, 2, [3, 4], { generator: g }).float()] },
  { name: 'GaussianNLLLoss homoscedastic, full', make: () => new GaussianNLLLoss({ full: true }), inputs: (g) => [x4(g, [4, 3]), x4(g, [4, 3]), x4(g, [4]).exp()] },
  { name: 'PoissonNLLLoss full, none', make: () => new PoissonNLLLoss({ full: true, reduction: 'none' }), inputs: (g) => [x4(g, [4, 3]), randint(0, 5, [4, 3], { generator: g }).float()] },
];

const TOL = { rtol: 1e-4, atol: 1e-5 };

/**
 * Forward, then backward of a fixed random weighting of the output, with a gradient for the
 * first input when it is floating (the prediction of a loss); returns the output and every
 * gradient, on the CPU.
 */
function forwardBackward(m: Module, inputs: Tensor[], device: Device, seed: number): Tensor[] {
  const ins = inputs.map((x) => x.detach().to(device));
  if (isFloating(ins[0].dtype)) ins[0].requiresGrad_();
  const y: Tensor = m.forward(...ins);
  y.backward(randn(y.shape, { generator: new Generator(seed) }).to(device));
  return [y, ...ins.filter((t) => t.requiresGrad), ...m.parameters()].map((t) => (t === y ? y : (t.grad as Tensor)).cpu());
}

describe.skipIf(!gpu)(needsGpu('every layer and loss on CUDA: forward and gradients equal to the CPU'), () => {
  for (const c of LAYERS) {
    it(c.name, () => {
      scope(() => {
        manualSeed(3);
        const onCpu = c.make();
        manualSeed(3);
        const onGpu = c.make().to('cuda');
        const inputs = c.inputs(new Generator(4));
        const expected = forwardBackward(onCpu, inputs, 'cpu', 5);
        const actual = forwardBackward(onGpu, inputs, 'cuda', 5);
        expect(actual.length).toBe(expected.length);
        for (const [i, a] of actual.entries()) assertClose(a, expected[i], TOL, `${c.name} ${i === 0 ? 'output' : `gradient ${i}`}`);
        for (const [k, b] of Object.entries(onGpu.stateDict())) assertClose(b.cpu(), onCpu.stateDict()[k], TOL, `${c.name} state ${k}`);
      });
    });
  }

  it('Dropout: about p of the elements zeroed, the rest scaled by 1 / (1 - p), the gradient through the same mask', () => {
    manualSeed(6);
    const x = randn([4000], { device: 'cuda' }).requiresGrad_();
    const y = new Dropout(0.25).forward(x);
    y.sum().backward();
    const kept = Array.from(y.cpu().dataSync()).map((v) => v !== 0);
    const frac = kept.filter((k) => !k).length / kept.length;
    expect(frac).toBeGreaterThan(0.2);
    expect(frac).toBeLessThan(0.3);
    const g = Array.from((x.grad as Tensor).cpu().dataSync());
    for (const [i, v] of g.entries()) expect(v).toBeCloseTo(kept[i] ? 1 / 0.75 : 0, 5);
  });
});

describe.skipIf(!gpu)(needsGpu('training on CUDA'), () => {
  it('Module.to("cuda") trains a few SGD steps with the losses of the CPU run', async () => {
    const { SGD } = await import('@dl/optim');
    const run = (device: 'cpu' | 'cuda') => {
      manualSeed(7);
      const net = convNet().to(device);
      const opt = new SGD(net.parameters(), { lr: 0.05, momentum: 0.9 });
      const g = new Generator(8);
      const losses: number[] = [];
      for (let step = 0; step < 5; step++) {
        scope(() => {
          const x = randn([8, 3, 8, 8], { generator: g }).to(device);
          const y = randint(0, 5, [8], { generator: g }).to(device);
          const loss = new CrossEntropyLoss().forward(net.forward(x), y);
          opt.zeroGrad();
          loss.backward();
          opt.step();
          losses.push(loss.item());
        });
      }
      for (const s of opt.state.values()) for (const v of Object.values(s)) if (typeof v === 'object') expect((v as Tensor).device).toBe(device === 'cuda' ? 'cuda:0' : 'cpu');
      return losses;
    };
    const cpuLosses = run('cpu');
    const gpuLosses = run('cuda');
    for (const [i, l] of gpuLosses.entries()) expect(Math.abs(l - cpuLosses[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(cpuLosses[i])));
  });
});
