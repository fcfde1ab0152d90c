import { describe, expect, it } from 'vitest';
import { Generator, arange, bernoulli, manualSeed, ones, randn, tensor, zeros } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { gradcheck, noGrad } from '@dl/autograd';
import {
  AdaptiveAvgPool2d,
  AdaptiveMaxPool2d,
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  Dropout,
  Dropout2d,
  ELU,
  Embedding,
  F,
  Flatten,
  GELU,
  GroupNorm,
  Hardsigmoid,
  Hardswish,
  Hardtanh,
  Identity,
  LayerNorm,
  LeakyReLU,
  Linear,
  LogSoftmax,
  MaxPool2d,
  Mish,
  type Module,
  PReLU,
  ReLU,
  ReLU6,
  SiLU,
  Sigmoid,
  Softmax,
  Softplus,
  Tanh,
  Unflatten,
  Upsample,
  utils,
} from '../src/index.js';

const values = (t: Tensor) => Array.from(t.dataSync());
const round = (xs: number[], digits = 5) => xs.map((v) => Math.round(v * 10 ** digits) / 10 ** digits);

function stats(xs: number[]): { min: number; max: number; mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return { min: Math.min(...xs), max: Math.max(...xs), mean, std: Math.sqrt(variance) };
}

/** gradcheck of a module's forward as a function of (input, ...parameters), in float64. */
function gradcheckModule(m: Module, x: Tensor, opts: { inputGrad?: boolean } = {}): boolean {
  m.double();
  const names = m.namedParameters().map(([k]) => k);
  const input = x.dtype === 'float32' ? x.to('float64') : x;
  if (opts.inputGrad ?? input.dtype === 'float64') input.requiresGrad_();
  const fn = (inp: Tensor, ...ps: Tensor[]) => utils.functionalCall(m, Object.fromEntries(names.map((k, i) => [k, ps[i]])), inp) as Tensor;
  return gradcheck(fn, [input, ...m.parameters()]);
}

describe('default initialisation (PyTorch reset_parameters)', () => {
  it('Linear(400, 120): weight and bias ~ U(-1/sqrt(400), 1/sqrt(400))', () => {
    manualSeed(0);
    const lin = new Linear(400, 120);
    const bound = 1 / Math.sqrt(400);
    const w = stats(values(lin.weight));
    expect(w.min).toBeGreaterThanOrEqual(-bound);
    expect(w.max).toBeLessThanOrEqual(bound);
    // The std of U(-b, b) is b / sqrt(3); 48000 samples pin it to well under 1%.
    expect(Math.abs(w.std / (bound / Math.sqrt(3)) - 1)).toBeLessThan(0.01);
    expect(Math.abs(w.mean)).toBeLessThan(0.001);
    expect(w.max).toBeGreaterThan(0.99 * bound);
    const b = stats(values(lin.bias!));
    expect(b.min).toBeGreaterThanOrEqual(-bound);
    expect(b.max).toBeLessThanOrEqual(bound);
    expect(Math.abs(b.std / (bound / Math.sqrt(3)) - 1)).toBeLessThan(0.2);
    // Deterministic under manualSeed.
    manualSeed(0);
    expect(values(new Linear(400, 120).weight)).toEqual(values(lin.weight));
  });

  it('Conv2d(3, 6, 5): fanIn = 3 * 5 * 5, weight and bias ~ U(-1/sqrt(75), 1/sqrt(75))', () => {
    manualSeed(1);
    const conv = new Conv2d(3, 6, 5);
    const bound = 1 / Math.sqrt(75);
    const w = stats(values(conv.weight));
    expect(w.min).toBeGreaterThanOrEqual(-bound);
    expect(w.max).toBeLessThanOrEqual(bound);
    expect(Math.abs(w.std / (bound / Math.sqrt(3)) - 1)).toBeLessThan(0.08);
    const b = values(conv.bias!);
    expect(b.every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(new Set(b).size).toBe(6);
    // Grouped: fanIn = inChannels / groups * kh * kw.
    const g = stats(values(new Conv2d(4, 4, 3, { groups: 4 }).weight));
    expect(Math.max(-g.min, g.max)).toBeLessThanOrEqual(1 / 3);
  });

  it('normalisation layers start at weight 1, bias 0; Embedding ~ N(0, 1) with the padding row zeroed', () => {
    const bn = new BatchNorm2d(3);
    expect(values(bn.weight!)).toEqual([1, 1, 1]);
    expect(values(bn.bias!)).toEqual([0, 0, 0]);
    expect(values(bn.runningMean!)).toEqual([0, 0, 0]);
    expect(values(bn.runningVar!)).toEqual([1, 1, 1]);
    expect(bn.numBatchesTracked!.item()).toBe(0);
    const ln = new LayerNorm([2, 3]);
    expect(ln.weight!.toArray()).toEqual([[1, 1, 1], [1, 1, 1]]);
    expect(values(ln.bias!)).toEqual([0, 0, 0, 0, 0, 0]);
    manualSeed(2);
    const emb = new Embedding(1000, 20, { paddingIdx: -1 });
    expect(emb.paddingIdx).toBe(999);
    const s = stats(values(emb.weight).slice(0, 999 * 20));
    expect(Math.abs(s.mean)).toBeLessThan(0.02);
    expect(Math.abs(s.std - 1)).toBeLessThan(0.02);
    expect(values(emb.weight.select(0, 999))).toEqual(new Array(20).fill(0));
  });

  it('honours the dtype factory option', () => {
    const lin = new Linear(3, 2, { dtype: 'float64' });
    expect(lin.weight.dtype).toBe('float64');
    expect(new BatchNorm1d(2, { dtype: 'float64' }).runningVar!.dtype).toBe('float64');
  });
});

describe('Linear', () => {
  it('computes x W^T + b with known weights, for any leading dims', () => {
    const lin = new Linear(2, 3);
    lin.loadStateDict({ weight: tensor([[1, 2], [3, 4], [5, 6]]), bias: tensor([1, 0, -1]) });
    expect(lin.forward(tensor([[1, 1], [2, -1]])).toArray()).toEqual([[4, 7, 10], [1, 2, 3]]);
    expect(lin.forward(tensor([[[1, 1]], [[2, -1]]])).shape).toEqual([2, 1, 3]);
    expect(lin.forward(tensor([1, 1])).toArray()).toEqual([4, 7, 10]);
    const noBias = new Linear(2, 1, { bias: false });
    expect(noBias.bias).toBeNull();
    expect(noBias.parameters()).toHaveLength(1);
    expect(() => lin.forward(ones([4, 5]))).toThrowError(/linear: input of shape \[4, 5\] has 5 features in its last dim, but the weight \[3, 2\] expects 2\nhint: did you forget to flatten/);
  });

  it('passes gradcheck (input, weight, bias)', () => {
    manualSeed(4);
    expect(gradcheckModule(new Linear(4, 3), randn([2, 4]))).toBe(true);
    expect(gradcheckModule(new Linear(3, 2, { bias: false }), randn([2, 2, 3]))).toBe(true);
  });
});

describe('Conv2d', () => {
  it('computes a known cross-correlation and the output shapes of PyTorch', () => {
    const conv = new Conv2d(1, 1, 2);
    conv.loadStateDict({ weight: ones([1, 1, 2, 2]), bias: tensor([0.5]) });
    const x = arange(1, 10).to('float32').reshape([1, 1, 3, 3]);
    expect(conv.forward(x).toArray()).toEqual([[[[12.5, 16.5], [24.5, 28.5]]]]);
    // Unbatched (C, H, W) input.
    expect(conv.forward(x.reshape([1, 3, 3])).shape).toEqual([1, 2, 2]);
    expect(new Conv2d(3, 8, 3, { stride: 2, padding: 1 }).forward(randn([2, 3, 9, 9])).shape).toEqual([2, 8, 5, 5]);
    expect(new Conv2d(3, 8, [3, 5], { padding: 'same', dilation: 2 }).forward(randn([1, 3, 7, 8])).shape).toEqual([1, 8, 7, 8]);
    expect(new Conv2d(4, 4, 4, { padding: 'same' }).forward(randn([1, 4, 6, 6])).shape).toEqual([1, 4, 6, 6]);
    expect(new Conv2d(3, 8, 3, { padding: 'valid' }).forward(randn([1, 3, 5, 5])).shape).toEqual([1, 8, 3, 3]);
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrowError(/inChannels \(3\) must be divisible by groups \(2\)/);
    expect(() => new Conv2d(2, 2, 3, { padding: 'same', stride: 2 })).toThrowError(/padding='same' is not supported for strided convolutions/);
  });

  it('pads with the other padding modes before a padding-0 convolution', () => {
    manualSeed(5);
    const conv = new Conv2d(2, 3, 3, { padding: 1, paddingMode: 'reflect' });
    const x = randn([1, 2, 4, 5]);
    const expected = F.conv2d(F.pad(x, [1, 1, 1, 1], 'reflect'), conv.weight, conv.bias);
    expect(round(values(conv.forward(x)))).toEqual(round(values(expected)));
    expect(String(conv)).toBe("Conv2d(2, 3, kernelSize=[3, 3], stride=[1, 1], padding=[1, 1], paddingMode='reflect')");
    const circ = new Conv2d(1, 1, 2, { padding: 'same', paddingMode: 'circular' });
    expect(circ.forward(randn([1, 1, 3, 3])).shape).toEqual([1, 1, 3, 3]);
  });

  it('passes gradcheck with stride, padding, dilation and groups', () => {
    manualSeed(6);
    expect(gradcheckModule(new Conv2d(2, 2, 3, { stride: 2, padding: 1 }), randn([1, 2, 5, 5]))).toBe(true);
    expect(gradcheckModule(new Conv2d(4, 2, 2, { groups: 2, dilation: 2, bias: false }), randn([1, 4, 4, 4]))).toBe(true);
    expect(gradcheckModule(new Conv2d(1, 2, 2, { padding: 'same' }), randn([2, 1, 3, 3]))).toBe(true);
    expect(gradcheckModule(new Conv2d(1, 1, 3, { padding: 1, paddingMode: 'reflect' }), randn([1, 1, 3, 4]))).toBe(true);
  });
});

/**
 * The transposed convolution by its definition: each input pixel scatters its value times the
 * kernel into the output, at stride steps, dilated taps, cropped by the padding (float64).
 */
function convTransposeReference(x: Tensor, w: Tensor, bias: Tensor | null, s: number[], p: number[], op: number[], d: number[], groups: number): { shape: number[]; data: number[] } {
  const [n, cin, h, wd] = x.shape;
  const [, coutG, kh, kw] = w.shape;
  const cout = coutG * groups;
  const oh = (h - 1) * s[0] - 2 * p[0] + d[0] * (kh - 1) + op[0] + 1;
  const ow = (wd - 1) * s[1] - 2 * p[1] + d[1] * (kw - 1) + op[1] + 1;
  const xv = values(x);
  const wv = values(w);
  const out = new Array<number>(n * cout * oh * ow).fill(0);
  const cinG = cin / groups;
  for (let b = 0; b < n; b++)
    for (let ci = 0; ci < cin; ci++)
      for (let iy = 0; iy < h; iy++)
        for (let ix = 0; ix < wd; ix++)
          for (let cg = 0; cg < coutG; cg++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const oy = iy * s[0] - p[0] + ky * d[0];
                const ox = ix * s[1] - p[1] + kx * d[1];
                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                const co = Math.floor(ci / cinG) * coutG + cg;
                out[((b * cout + co) * oh + oy) * ow + ox] += xv[((b * cin + ci) * h + iy) * wd + ix] * wv[((ci * coutG + cg) * kh + ky) * kw + kx];
              }
  if (bias) {
    const bv = values(bias);
    for (let i = 0; i < out.length; i++) out[i] += bv[Math.floor(i / (oh * ow)) % cout];
  }
  return { shape: [n, cout, oh, ow], data: out };
}

describe('ConvTranspose2d', () => {
  it('scatters each input pixel times the kernel, as the definition says (stride, padding, output padding, dilation, groups)', () => {
    manualSeed(21);
    const cases: [ConvTranspose2d, number[]][] = [
      [new ConvTranspose2d(2, 3, 3, { stride: 2, padding: 1, outputPadding: 1 }), [2, 2, 4, 5]],
      [new ConvTranspose2d(4, 6, [2, 3], { stride: [3, 2], groups: 2, dilation: [1, 2], bias: false }), [1, 4, 3, 3]],
      [new ConvTranspose2d(3, 2, 4, { padding: 2 }), [1, 3, 5, 4]],
    ];
    for (const [layer, shape] of cases) {
      const x = randn(shape);
      const y = layer.forward(x);
      const ref = convTransposeReference(x, layer.weight, layer.bias, layer.stride, layer.padding, layer.outputPadding, layer.dilation, layer.groups);
      expect(y.shape).toEqual(ref.shape);
      expect(round(values(y), 4)).toEqual(round(ref.data, 4));
    }
    // Unbatched input; the shapes PyTorch gives (a stride-2 upsampling doubles 16x16).
    expect(new ConvTranspose2d(3, 8, 4, { stride: 2, padding: 1 }).forward(randn([3, 16, 16])).shape).toEqual([8, 32, 32]);
  });

  it('starts as PyTorch: weight [in, out/groups, kh, kw], |w| and |b| within 1/sqrt(out/groups * kh * kw)', () => {
    manualSeed(22);
    const layer = new ConvTranspose2d(6, 8, 3, { groups: 2 });
    expect(layer.weight.shape).toEqual([6, 4, 3, 3]);
    const bound = 1 / Math.sqrt(4 * 9);
    for (const v of [...values(layer.weight), ...values(layer.bias!)]) expect(Math.abs(v)).toBeLessThanOrEqual(bound);
    expect(Math.max(...values(layer.weight).map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(String(layer)).toBe('ConvTranspose2d(6, 8, kernelSize=[3, 3], stride=[1, 1], groups=2)');
  });

  it('passes gradcheck for input, weight and bias', () => {
    manualSeed(23);
    expect(gradcheckModule(new ConvTranspose2d(2, 3, 3, { stride: 2, padding: 1, outputPadding: 1 }), randn([1, 2, 3, 3]))).toBe(true);
    expect(gradcheckModule(new ConvTranspose2d(4, 2, 2, { groups: 2, dilation: 2 }), randn([2, 4, 2, 3]))).toBe(true);
  });

  it("outputSize picks the output padding per call (PyTorch's output_size): undoing a stride-2 convolution of an even size", () => {
    manualSeed(4);
    const up = new ConvTranspose2d(3, 2, 3, { stride: 2, padding: 1 });
    const x = randn([1, 3, 6, 7]);
    // A 3x3 stride-2 padding-1 convolution maps both 12 and 11 rows to 6: 11 is the default, 12 asks for padding 1.
    expect(up.forward(x).shape).toEqual([1, 2, 11, 13]);
    const y = up.forward(x, [1, 2, 12, 13]);
    expect(y.shape).toEqual([1, 2, 12, 13]);
    const padded = new ConvTranspose2d(3, 2, 3, { stride: 2, padding: 1, outputPadding: [1, 0] });
    padded.loadStateDict(up.stateDict());
    expect(Array.from(y.dataSync())).toEqual(Array.from(padded.forward(x).dataSync()));
    expect(up.forward(x, [12, 14]).shape).toEqual([1, 2, 12, 14]);
    expect(() => up.forward(x, [13, 13])).toThrowError(/ConvTranspose2d: requested an output height of 13, but for an input of shape \[1, 3, 6, 7\] it can only be 11 to 12/);
    expect(() => up.forward(x, [12])).toThrowError(/outputSize must be \[H, W\] or the full output shape \(4 numbers\); got \[12\]/);
  });

  it('refuses what PyTorch refuses, saying why', () => {
    expect(() => new ConvTranspose2d(2, 2, 3, { stride: 2, outputPadding: 2 })).toThrowError(/ConvTranspose2d: outputPadding \[2, 2\] must be smaller than the stride \[2, 2\]/);
    expect(() => new ConvTranspose2d(3, 4, 3, { groups: 2 })).toThrowError(/inChannels \(3\) must be divisible by groups \(2\)/);
    expect(() => new ConvTranspose2d(3, 4, 3).forward(randn([1, 2, 5, 5]))).toThrowError(/convTranspose2d: weight must be \[inChannels, outChannels \/ groups, kh, kw\] with inChannels = the input's 2 channels/);
    expect(() => F.convTranspose2d(randn([1, 1, 1, 1]), randn([1, 1, 3, 3]), null, { padding: 2 })).toThrowError(/convTranspose2d: the output would be -1x-1/);
  });
});

describe('GroupNorm / Dropout2d / Upsample', () => {
  // x[n, c, h, w] = sin(((n * 3 + c) * 3 + h) * 4 + w), float64: the input of the PyTorch lines below.
  const sinInput = () => arange(0, 72, 1, { dtype: 'float64' }).sin().reshape([2, 3, 3, 4]);

  it('GroupNorm normalises each group per sample (float64 definition, and PyTorch 1.13)', () => {
    const x = sinInput();
    const gn = new GroupNorm(3, 3).double();
    gn.loadStateDict({ weight: tensor([1, 2, 3], { dtype: 'float64' }), bias: tensor([0, 0.5, -1], { dtype: 'float64' }) });
    const y = values(gn.forward(x));
    const xv = values(x);
    // By definition: group (n, c) holds 12 values; (v - mean) / sqrt(biased var + eps) * w[c] + b[c].
    const w = [1, 2, 3];
    const b = [0, 0.5, -1];
    for (let g = 0; g < 6; g++) {
      const vs = xv.slice(g * 12, g * 12 + 12);
      const mean = vs.reduce((a, v) => a + v, 0) / 12;
      const variance = vs.reduce((a, v) => a + (v - mean) ** 2, 0) / 12;
      for (const [i, v] of vs.entries()) expect(y[g * 12 + i]).toBeCloseTo(((v - mean) / Math.sqrt(variance + 1e-5)) * w[g % 3] + b[g % 3], 10);
    }
    // torch.nn.functional.group_norm(x, 3, weight, bias)[1].flatten()[:5] with PyTorch 1.13:
    expect(round(y.slice(36, 41), 8)).toEqual(round([-1.4364180119693661, -0.9467412782762397, 0.37490326871153973, 1.3134017275695136, 1.0059029433310516], 8));
    expect(gradcheckModule(new GroupNorm(2, 4), randn([2, 4, 3]))).toBe(true);
    expect(() => new GroupNorm(3, 4)).toThrowError(/numChannels \(4\) must be divisible by numGroups \(3\)/);
  });

  it('Dropout2d zeroes whole channels and scales the rest; the identity in eval mode', () => {
    manualSeed(31);
    const d = new Dropout2d(0.5);
    const x = ones([8, 16, 3, 3]);
    const y = values(d.forward(x));
    let zeroed = 0;
    for (let ch = 0; ch < 8 * 16; ch++) {
      const plane = y.slice(ch * 9, ch * 9 + 9);
      expect(new Set(plane).size).toBe(1);
      expect([0, 2]).toContain(plane[0]);
      if (plane[0] === 0) zeroed++;
    }
    expect(zeroed).toBeGreaterThan(40);
    expect(zeroed).toBeLessThan(88);
    d.eval();
    expect(d.forward(x)).toBe(x);
  });

  it('Upsample / interpolate: nearest and bilinear as PyTorch (sizes, scale factors, alignCorners)', () => {
    const x = sinInput();
    const at = (t: Tensor, n: number, c: number) => values(t.select(0, n).select(0, c));
    // PyTorch 1.13: F.interpolate(x, size=(5, 7), mode=...)[1, 2].flatten() (first entries).
    expect(round(at(new Upsample({ size: [5, 7], mode: 'bilinear' }).forward(x), 1, 2).slice(0, 6), 8)).toEqual(round([-0.3048106211022167, -0.5409917457115653, -0.9188815450865231, -0.8526492333288078, -0.6744280968669352, -0.1564072986086323], 8));
    expect(round(at(F.interpolate(x, { size: [5, 7], mode: 'bilinear', alignCorners: true }), 1, 2).slice(0, 6), 8)).toEqual(round([-0.3048106211022167, -0.6354641955553049, -0.9661177700083929, -0.8526492333288078, -0.7391806966492228, -0.28591249817320796], 8));
    expect(round(at(F.interpolate(x, { size: [5, 7] }), 1, 2).slice(0, 8), 8)).toEqual(round([-0.3048106211022167, -0.3048106211022167, -0.9661177700083929, -0.9661177700083929, -0.7391806966492228, -0.7391806966492228, 0.16735570030280691, -0.3048106211022167], 8));
    const up = F.interpolate(x, { scaleFactor: 1.5, mode: 'bilinear' });
    expect(up.shape).toEqual([2, 3, 4, 6]);
    expect(round(at(up, 0, 1).slice(0, 6), 8)).toEqual(round([-0.5365729180004349, -0.05820294058689704, 0.5152404233046791, 0.895533969216832, 0.8204475979259935, 0.6502878401571168], 8));
    // Nearest by an integer factor repeats each pixel (hand-worked).
    expect(F.interpolate(tensor([[[[1, 2], [3, 4]]]]), { scaleFactor: 2 }).toArray()).toEqual([[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]]);
    expect(gradcheck((t: Tensor) => F.interpolate(t, { size: [4, 5], mode: 'bilinear' }), [randn([1, 2, 3, 3], { dtype: 'float64' }).requiresGrad_()])).toBe(true);
    expect(() => F.interpolate(x, { size: 4, scaleFactor: 2 })).toThrowError(/interpolate: give exactly one of size and scaleFactor/);
    expect(String(new Upsample({ scaleFactor: 2 }))).toBe("Upsample(scaleFactor=2, mode='nearest')");
  });
});

describe('pooling', () => {
  const x = arange(16).to('float32').reshape([1, 1, 4, 4]);

  it('MaxPool2d, AvgPool2d and the adaptive pools compute known values', () => {
    expect(new MaxPool2d(2).forward(x).toArray()).toEqual([[[[5, 7], [13, 15]]]]);
    expect(new MaxPool2d(2, 2).forward(x).toArray()).toEqual([[[[5, 7], [13, 15]]]]);
    expect(new MaxPool2d(3, { stride: 1 }).forward(x).toArray()).toEqual([[[[10, 11], [14, 15]]]]);
    expect(new MaxPool2d(3, { stride: 2, ceilMode: true }).forward(x).shape).toEqual([1, 1, 2, 2]);
    expect(new AvgPool2d(2).forward(x).toArray()).toEqual([[[[2.5, 4.5], [10.5, 12.5]]]]);
    expect(new AvgPool2d(2, { stride: 2, padding: 1, countIncludePad: false }).forward(x).toArray()).toEqual([[[[0, 1.5, 3], [6, 7.5, 9], [12, 13.5, 15]]]]);
    expect(new AdaptiveAvgPool2d(1).forward(x).toArray()).toEqual([[[[7.5]]]]);
    expect(new AdaptiveAvgPool2d([2, null]).forward(x).shape).toEqual([1, 1, 2, 4]);
    expect(new AdaptiveMaxPool2d(2).forward(x).toArray()).toEqual([[[[5, 7], [13, 15]]]]);
    expect(String(new AvgPool2d(3, 1))).toBe('AvgPool2d(kernelSize=3, stride=1, padding=0)');
    expect(String(new AdaptiveAvgPool2d([5, 7]))).toBe('AdaptiveAvgPool2d(outputSize=[5, 7])');
  });

  it('pass gradcheck', () => {
    manualSeed(7);
    const inp = randn([1, 2, 4, 4]);
    expect(gradcheckModule(new MaxPool2d(2, { stride: 1, padding: 1 }), inp)).toBe(true);
    expect(gradcheckModule(new AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }), inp)).toBe(true);
    expect(gradcheckModule(new AdaptiveAvgPool2d(3), inp)).toBe(true);
  });
});

describe('BatchNorm', () => {
  it('updates running stats as worked by hand over two steps (momentum 0.1, unbiased variance)', () => {
    const bn = new BatchNorm1d(2);
    // Step 1: columns [1, 3] and [2, 6]: mean [2, 4], biased var [1, 4], unbiased var [2, 8].
    const y1 = bn.forward(tensor([[1, 2], [3, 6]]));
    expect(round(values(bn.runningMean!))).toEqual([0.2, 0.4]); // 0.9 * 0 + 0.1 * mean
    expect(round(values(bn.runningVar!))).toEqual([1.1, 1.7]); // 0.9 * 1 + 0.1 * unbiased var
    // Normalised with the biased batch variance: (x - mean) / sqrt(var + eps).
    expect(round(values(y1), 4)).toEqual([-1, -1, 1, 1]);
    // Step 2: columns [0, 2, 4] and [0, -2, 2]: means [2, 0], unbiased vars [4, 4], biased [8/3, 8/3].
    const y2 = bn.forward(tensor([[0, 0], [2, -2], [4, 2]]));
    expect(round(values(bn.runningMean!))).toEqual([0.38, 0.36]); // 0.9 * [0.2, 0.4] + 0.1 * [2, 0]
    expect(round(values(bn.runningVar!))).toEqual([1.39, 1.93]); // 0.9 * [1.1, 1.7] + 0.1 * [4, 4]
    expect(bn.numBatchesTracked!.item()).toBe(2);
    const s = Math.sqrt(8 / 3 + 1e-5);
    expect(round(values(y2))).toEqual(round([-2 / s, 0, 0, -2 / s, 2 / s, 2 / s]));
    // Eval: the running stats, (x - 0.38) / sqrt(1.39 + eps) etc., and no updates.
    bn.eval();
    const y3 = bn.forward(tensor([[1, 1]]));
    expect(round(values(y3))).toEqual(round([(1 - 0.38) / Math.sqrt(1.39 + 1e-5), (1 - 0.36) / Math.sqrt(1.93 + 1e-5)]));
    expect(bn.numBatchesTracked!.item()).toBe(2);
    expect(round(values(bn.runningMean!))).toEqual([0.38, 0.36]);
  });

  it('momentum null keeps a cumulative average; affine weight and bias apply; no running stats uses batch stats', () => {
    const bn = new BatchNorm1d(2, { momentum: null });
    bn.forward(tensor([[1, 2], [3, 6]]));
    bn.forward(tensor([[0, 0], [2, -2], [4, 2]]));
    expect(round(values(bn.runningMean!))).toEqual([2, 2]); // ([2, 4] + [2, 0]) / 2
    expect(round(values(bn.runningVar!))).toEqual([3, 6]); // ([2, 8] + [4, 4]) / 2

    const affine = new BatchNorm2d(1);
    noGrad(() => {
      affine.weight!.fill_(3);
      affine.bias!.fill_(-1);
    });
    const y = affine.forward(tensor([[[[1, 3]]], [[[5, 7]]]]));
    const sd = Math.sqrt(5 + 1e-5); // mean 4, biased var 5
    expect(round(values(y))).toEqual(round([-3, -1, 1, 3].map((d) => (3 * d) / sd - 1)));

    const free = new BatchNorm1d(1, { trackRunningStats: false, affine: false }).eval();
    expect(free.runningMean).toBeNull();
    expect(free.parameters()).toHaveLength(0);
    expect(Object.keys(free.stateDict())).toEqual([]);
    expect(round(values(free.forward(tensor([[1], [3]]))), 4)).toEqual([-1, 1]);
    expect(String(free)).toBe('BatchNorm1d(1, eps=0.00001, momentum=0.1, affine=false, trackRunningStats=false)');
  });

  it('explains bad inputs', () => {
    expect(() => new BatchNorm2d(3).forward(ones([1, 3, 1, 1]))).toThrowError(/expected more than 1 value per channel when training; got input of shape \[1, 3, 1, 1\]/);
    expect(() => new BatchNorm2d(3).forward(ones([2, 4, 2, 2]))).toThrowError(/expected 3 channels in dim 1; got input of shape \[2, 4, 2, 2\]/);
    expect(() => new BatchNorm2d(3).forward(ones([2, 3]))).toThrowError(/BatchNorm2d: expected 4D input \(got 2D input of shape \[2, 3\]\)/);
    expect(() => new BatchNorm1d(3).forward(ones([2, 3, 2, 2]))).toThrowError(/expected 2D or 3D input/);
  });

  it('passes gradcheck in train mode (input, weight, bias) and in eval mode', () => {
    manualSeed(8);
    expect(gradcheckModule(new BatchNorm2d(2), randn([3, 2, 2, 2]))).toBe(true);
    expect(gradcheckModule(new BatchNorm1d(3), randn([4, 3, 2]))).toBe(true);
    const bn = new BatchNorm1d(2);
    bn.forward(randn([5, 2]));
    expect(gradcheckModule(bn.eval(), randn([3, 2]))).toBe(true);
  });
});

describe('LayerNorm', () => {
  it('normalises over the trailing dims with the biased variance', () => {
    const ln = new LayerNorm(3);
    // Row [1, 2, 3]: mean 2, var 2/3; row [2, 4, 6]: mean 4, var 8/3.
    const y = ln.forward(tensor([[1, 2, 3], [2, 4, 6]]));
    const a = 1 / Math.sqrt(2 / 3 + 1e-5);
    const b = 2 / Math.sqrt(8 / 3 + 1e-5);
    expect(round(values(y))).toEqual(round([-a, 0, a, -b, 0, b]));
    expect(new LayerNorm([2, 3]).forward(randn([4, 2, 3])).shape).toEqual([4, 2, 3]);
    expect(() => ln.forward(ones([2, 4]))).toThrowError(/expected an input of shape \[\*, 3\]/);
    expect(String(new LayerNorm([2, 3], { elementwiseAffine: false }))).toBe('LayerNorm([2, 3], eps=0.00001, elementwiseAffine=false)');
  });

  it('passes gradcheck', () => {
    manualSeed(9);
    const ln = new LayerNorm([2, 3]);
    noGrad(() => {
      ln.weight!.normal_();
      ln.bias!.normal_();
    });
    expect(gradcheckModule(ln, randn([2, 2, 3]))).toBe(true);
  });
});

describe('Dropout', () => {
  it('zeros about p of the elements and scales the rest by 1 / (1 - p), repeatably under manualSeed', () => {
    const drop = new Dropout(0.3);
    const x = ones([10000]);
    manualSeed(11);
    const y = values(drop.forward(x));
    const zerosCount = y.filter((v) => v === 0).length;
    expect(Math.abs(zerosCount / y.length - 0.3)).toBeLessThan(0.02);
    expect(y.every((v) => v === 0 || Math.abs(v - 1 / 0.7) < 1e-6)).toBe(true);
    // The same draws as bernoulli(1 - p) from the default generator.
    manualSeed(11);
    const mask = values(bernoulli(0.7, { shape: [10000] }));
    expect(y.map((v) => (v === 0 ? 0 : 1))).toEqual(mask);
    manualSeed(11);
    expect(values(drop.forward(x))).toEqual(y);
  });

  it('is the identity in eval mode, and scales the gradient like the output', () => {
    const drop = new Dropout(0.5);
    const x = randn([4, 5]);
    drop.eval();
    expect(drop.forward(x)).toBe(x);
    drop.train();
    const leaf = ones([6], { requiresGrad: true });
    manualSeed(3);
    const y = drop.forward(leaf);
    y.sum().backward();
    expect(values(leaf.grad!)).toEqual(values(y));
    expect(F.dropout(x, 0)).toBe(x);
    expect(values(F.dropout(x, 1)).every((v) => v === 0)).toBe(true);
    expect(() => new Dropout(1.5)).toThrowError(/dropout probability has to be between 0 and 1; got 1.5/);
  });

  it('passes gradcheck with a fixed generator', () => {
    manualSeed(12);
    const x = randn([3, 4], { dtype: 'float64' }).requiresGrad_();
    expect(gradcheck((t) => F.dropout(t, 0.4, true, { generator: new Generator(5) }), [x])).toBe(true);
  });
});

describe('activations and shape layers', () => {
  const xs = [-2, -0.5, 0, 0.5, 3];
  const x = tensor(xs, { dtype: 'float64' });

  it('match their formulas', () => {
    const phi = (v: number) => 0.5 * (1 + erf(v / Math.SQRT2));
    expect(values(new ReLU().forward(x))).toEqual(xs.map((v) => Math.max(v, 0)));
    expect(values(new LeakyReLU(0.1).forward(x))).toEqual(xs.map((v) => (v > 0 ? v : 0.1 * v)));
    expect(round(values(new Sigmoid().forward(x)), 10)).toEqual(round(xs.map((v) => 1 / (1 + Math.exp(-v))), 10));
    expect(round(values(new Tanh().forward(x)), 10)).toEqual(round(xs.map(Math.tanh), 10));
    expect(round(values(new SiLU().forward(x)), 10)).toEqual(round(xs.map((v) => v / (1 + Math.exp(-v))), 10));
    expect(round(values(new GELU().forward(x)), 6)).toEqual(round(xs.map((v) => v * phi(v)), 6));
    const tanhApprox = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    expect(round(values(new GELU({ approximate: 'tanh' }).forward(x)), 10)).toEqual(round(xs.map(tanhApprox), 10));
    const m = tensor([[1, 2, 3], [0, 0, Math.log(2)]], { dtype: 'float64' });
    expect(round(values(new Softmax(1).forward(m)), 10)).toEqual(round([1, Math.E, Math.E ** 2].map((v) => v / (1 + Math.E + Math.E ** 2)).concat([0.25, 0.25, 0.5]), 10));
    expect(round(values(new LogSoftmax(-1).forward(m)), 10)).toEqual(round(values(new Softmax(-1).forward(m)).map(Math.log), 10));
    expect(String(new GELU())).toBe("GELU(approximate='none')");
    expect(String(new Softmax(1))).toBe('Softmax(dim=1)');
    expect(() => new Softmax(undefined as unknown as number)).toThrowError(/dim must be an integer/);
  });

  it('ELU, Softplus, Hardtanh, ReLU6, Hardsigmoid, Hardswish, Mish and PReLU match their formulas', () => {
    const v = [-30, -2, -0.5, 0, 0.5, 3, 30];
    const t = tensor(v, { dtype: 'float64' });
    const sp = (a: number, beta = 1) => Math.log1p(Math.exp(beta * a)) / beta;
    const relu6 = (a: number) => Math.min(Math.max(a, 0), 6);
    expect(round(values(new ELU(0.7).forward(t)), 10)).toEqual(round(v.map((a) => (a > 0 ? a : 0.7 * Math.expm1(a))), 10));
    expect(round(values(new Softplus().forward(t)), 10)).toEqual(round(v.map((a) => (a > 20 ? a : sp(a))), 10));
    expect(round(values(new Softplus(2, 5).forward(t)), 10)).toEqual(round(v.map((a) => (2 * a > 5 ? a : sp(a, 2))), 10));
    expect(values(new Hardtanh(-1, 2).forward(t))).toEqual(v.map((a) => Math.min(Math.max(a, -1), 2)));
    expect(values(new ReLU6().forward(t))).toEqual(v.map(relu6));
    expect(round(values(new Hardsigmoid().forward(t)), 12)).toEqual(round(v.map((a) => relu6(a + 3) / 6), 12));
    expect(round(values(new Hardswish().forward(t)), 12)).toEqual(round(v.map((a) => (a * relu6(a + 3)) / 6), 12));
    expect(round(values(new Mish().forward(t)), 10)).toEqual(round(v.map((a) => a * Math.tanh(sp(a))), 10));
    const prelu = new PReLU(3).double();
    prelu.loadStateDict({ weight: tensor([0.1, 0.2, 0.3], { dtype: 'float64' }) });
    expect(values(prelu.forward(tensor([[-1, -1, -1], [2, -2, 0]], { dtype: 'float64' })))).toEqual([-0.1, -0.2, -0.3, 2, -0.4, 0]);
    expect(values(new PReLU().forward(tensor([-4, 4])))).toEqual([-1, 4]);
    // float32 at large |x|: no overflow to Infinity or NaN, in values or gradients.
    const big = tensor([-200, 200], { requiresGrad: true });
    const out = F.elu(big).add(F.softplus(big)).add(F.mish(big)).sum();
    out.backward();
    expect(values(big.grad!).every(Number.isFinite)).toBe(true);
    expect(() => new PReLU(2).forward(randn([1, 3, 2]))).toThrowError(/prelu: weight must have 1 entry or one per channel \(3 for input \[1, 3, 2\]\); got \[2\]/);
    expect(() => new Hardtanh(1, 1)).toThrowError(/Hardtanh: minVal must be below maxVal; got 1 and 1/);
  });

  it('pass gradcheck', () => {
    const g = tensor([-1.3, -0.2, 0.4, 2.1], { dtype: 'float64' });
    for (const m of [new GELU(), new GELU({ approximate: 'tanh' }), new LeakyReLU(0.2), new SiLU(), new Sigmoid(), new Tanh(), new ReLU(), new ELU(), new Softplus(2), new Mish(), new Hardswish(), new Hardsigmoid(), new ReLU6(), new Hardtanh(-1, 1.5), new PReLU()]) {
      expect(gradcheckModule(m, g.clone())).toBe(true);
    }
    manualSeed(13);
    expect(gradcheckModule(new Softmax(1), randn([2, 3]))).toBe(true);
    expect(gradcheckModule(new LogSoftmax(0), randn([3, 2]))).toBe(true);
  });

  it('Flatten, Unflatten and Identity', () => {
    const t = randn([2, 3, 4, 5]);
    expect(new Flatten().forward(t).shape).toEqual([2, 60]);
    expect(new Flatten(0, 2).forward(t).shape).toEqual([24, 5]);
    expect(F.flatten(t).shape).toEqual([120]);
    expect(new Unflatten(1, [3, 4]).forward(ones([2, 12])).shape).toEqual([2, 3, 4]);
    expect(new Identity(54, { unused: true }).forward(t)).toBe(t);
  });
});

describe('Embedding', () => {
  it('looks up rows for int32 indices of any shape', () => {
    const emb = new Embedding(4, 2);
    emb.loadStateDict({ weight: tensor([[0, 1], [10, 11], [20, 21], [30, 31]]) });
    const y = emb.forward(tensor([[3, 0, 3], [1, 1, 2]], { dtype: 'int32' }));
    expect(y.shape).toEqual([2, 3, 2]);
    expect(y.toArray()).toEqual([[[30, 31], [0, 1], [30, 31]], [[10, 11], [10, 11], [20, 21]]]);
    expect(() => emb.forward(tensor([1, 2]))).toThrowError(/embedding: indices must be int32; got float32/);
    expect(() => emb.forward(tensor([1, 4], { dtype: 'int32' }))).toThrowError(/index 4 is out of range for an embedding of 4 rows \(at flat position 1 of the input\)/);
    expect(String(new Embedding(10, 3, { paddingIdx: 0 }))).toBe('Embedding(10, 3, paddingIdx=0)');
  });

  it('accumulates gradients of repeated indices and gives the padding row none', () => {
    const emb = new Embedding(4, 2, { paddingIdx: 1 });
    noGrad(() => emb.weight.fill_(2));
    const idx = tensor([0, 1, 0, 3, 1], { dtype: 'int32' });
    const y = emb.forward(idx);
    // The padding row keeps its value in the forward pass.
    expect(values(y.select(0, 1))).toEqual([2, 2]);
    y.mul(tensor([[1], [1], [2], [3], [1]])).sum().backward();
    expect(emb.weight.grad!.toArray()).toEqual([[3, 3], [0, 0], [0, 0], [3, 3]]);
  });

  it('passes gradcheck; fromPretrained copies and freezes', () => {
    manualSeed(14);
    expect(gradcheckModule(new Embedding(5, 3), tensor([[4, 0], [2, 4]], { dtype: 'int32' }))).toBe(true);
    const table = tensor([[1, 2], [3, 4]]);
    const frozen = Embedding.fromPretrained(table);
    expect(frozen.weight.requiresGrad).toBe(false);
    expect(frozen.weight.storage).not.toBe(table.storage);
    expect(frozen.forward(tensor([1], { dtype: 'int32' })).toArray()).toEqual([[3, 4]]);
    expect(Embedding.fromPretrained(table, { freeze: false }).weight.requiresGrad).toBe(true);
  });
});

describe('functional', () => {
  it('linear, batchNorm and layerNorm agree with their layers', () => {
    manualSeed(15);
    const lin = new Linear(3, 2);
    const x = randn([4, 3]);
    expect(values(F.linear(x, lin.weight, lin.bias))).toEqual(values(lin.forward(x)));
    const rm = zeros([3]);
    const rv = ones([3]);
    const y = F.batchNorm(x, rm, rv, { training: true, momentum: 0.5 });
    const bn = new BatchNorm1d(3, { momentum: 0.5, affine: false });
    expect(round(values(y))).toEqual(round(values(bn.forward(x))));
    expect(round(values(rm))).toEqual(round(values(bn.runningMean!)));
    expect(() => F.batchNorm(x, null, null)).toThrowError(/runningMean and runningVar are required when not training/);
    expect(round(values(F.layerNorm(x, [3])))).toEqual(round(values(new LayerNorm(3).forward(x))));
    expect(F.oneHot(tensor([0, 2], { dtype: 'int32' }), 3).toArray()).toEqual([[1, 0, 0], [0, 0, 1]]);
    expect(F.pad(ones([1, 1]), [1, 1]).toArray()).toEqual([[0, 1, 0]]);
    expect(F.maxPool2d(arange(16).to('float32').reshape([1, 1, 4, 4]), 2).toArray()).toEqual([[[[5, 7], [13, 15]]]]);
  });

  it('normalize scales each slice to unit norm (a zero slice stays zero)', () => {
    expect(round(values(F.normalize(tensor([[3, 4], [0, 0], [-1, 0]]))))).toEqual([0.6, 0.8, 0, 0, -1, 0]);
    expect(round(values(F.normalize(tensor([[3, 4], [1, 1]]), 1, 0)))).toEqual(round([0.75, 0.8, 0.25, 0.2]));
    const x = tensor([[3, 4], [-1, 0]], { requiresGrad: true });
    F.normalize(x).select(1, 0).sum().backward();
    // d(x0 / ||x||)/dx at (3, 4): (||x||^2 - x0^2) / ||x||^3 = 16/125 and -x0*x1/||x||^3 = -12/125; 0 at (-1, 0).
    expect(round(values(x.grad!))).toEqual(round([16 / 125, -12 / 125, 0, 0]));
    expect(gradcheck((t: Tensor) => F.normalize(t, 2, 1), [tensor([[0.3, -1.2, 2], [0.7, 0.1, -0.4]], { dtype: 'float64', requiresGrad: true })])).toBe(true);
  });
});

/** erf by Abramowitz-Stegun 7.1.26 is too coarse; use the series/continued fraction via Math. */
function erf(v: number): number {
  // Taylor series converges fast for |v| <= 3 (the range used here).
  let sum = 0;
  let term = v;
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1);
    term *= (-v * v) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}
