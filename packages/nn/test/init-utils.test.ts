import { describe, expect, it } from 'vitest';
import { Generator, manualSeed, rand, tensor, zeros } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { BatchNorm2d, Linear, Parameter, init, utils } from '../src/index.js';

const values = (t: Tensor) => Array.from(t.dataSync());
function stats(xs: number[]): { maxAbs: number; mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
  return { maxAbs: xs.reduce((m, x) => Math.max(m, Math.abs(x)), 0), mean, std };
}
const param = (shape: number[]) => new Parameter(zeros(shape));

describe('init', () => {
  it('calculateGain and fans follow PyTorch', () => {
    expect(init.calculateGain('linear')).toBe(1);
    expect(init.calculateGain('conv2d')).toBe(1);
    expect(init.calculateGain('sigmoid')).toBe(1);
    expect(init.calculateGain('tanh')).toBe(5 / 3);
    expect(init.calculateGain('relu')).toBe(Math.SQRT2);
    expect(init.calculateGain('leakyRelu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 12);
    expect(init.calculateGain('leaky_relu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(init.calculateGain('selu')).toBe(0.75);
    expect(() => init.calculateGain('swish' as 'relu')).toThrowError(/unsupported nonlinearity 'swish'/);
    expect(init.calculateFanInAndFanOut(zeros([6, 3, 5, 5]))).toEqual({ fanIn: 75, fanOut: 150 });
    expect(() => init.calculateFanInAndFanOut(zeros([5]))).toThrowError(/fewer than 2 dimensions/);
  });

  it('kaiming and xavier fill with the documented bounds and standard deviations', () => {
    manualSeed(31);
    const w = param([256, 128]);
    // Works on a parameter (in place, without recording) and returns it.
    expect(init.kaimingUniform_(w, { nonlinearity: 'relu' })).toBe(w);
    let bound = Math.SQRT2 * Math.sqrt(3 / 128);
    let s = stats(values(w));
    expect(s.maxAbs).toBeLessThanOrEqual(bound);
    expect(Math.abs(s.std / (bound / Math.sqrt(3)) - 1)).toBeLessThan(0.02);
    expect(w.requiresGrad && w.isLeaf).toBe(true);

    init.kaimingNormal_(w, { mode: 'fanOut', nonlinearity: 'relu' });
    s = stats(values(w));
    expect(Math.abs(s.std / (Math.SQRT2 / Math.sqrt(256)) - 1)).toBeLessThan(0.02);
    expect(Math.abs(s.mean)).toBeLessThan(0.002);

    init.kaimingUniform_(w, { a: Math.sqrt(5) });
    expect(stats(values(w)).maxAbs).toBeLessThanOrEqual(1 / Math.sqrt(128));

    init.xavierUniform_(w, { gain: 2 });
    bound = 2 * Math.sqrt(6 / (128 + 256));
    s = stats(values(w));
    expect(s.maxAbs).toBeLessThanOrEqual(bound);
    expect(Math.abs(s.std / (bound / Math.sqrt(3)) - 1)).toBeLessThan(0.02);

    init.xavierNormal_(w);
    expect(Math.abs(stats(values(w)).std / Math.sqrt(2 / (128 + 256)) - 1)).toBeLessThan(0.02);
  });

  it('uniform_, normal_, constant_, zeros_, ones_', () => {
    const t = param([1000]);
    init.uniform_(t, 2, 3);
    expect(values(t).every((v) => v >= 2 && v < 3)).toBe(true);
    init.normal_(t, 5, 0.1);
    expect(Math.abs(stats(values(t)).mean - 5)).toBeLessThan(0.02);
    init.constant_(t, 0.25);
    expect(new Set(values(t))).toEqual(new Set([0.25]));
    init.zeros_(t);
    expect(new Set(values(t))).toEqual(new Set([0]));
    init.ones_(t);
    expect(new Set(values(t))).toEqual(new Set([1]));
  });

  it("truncNormal_ has the truncated normal's moments and stays inside [a, b]", () => {
    manualSeed(11);
    // Standard normal truncated to [-2, 2]: mean 0, variance 1 - 2 * 2 * phi(2) / (Phi(2) - Phi(-2)).
    const phi2 = Math.exp(-2) / Math.sqrt(2 * Math.PI);
    const mass = 0.9544997361036416; // Phi(2) - Phi(-2) = erf(sqrt 2)
    const s = stats(values(init.truncNormal_(param([200000]))));
    expect(s.maxAbs).toBeLessThanOrEqual(2);
    expect(Math.abs(s.mean)).toBeLessThan(0.01);
    expect(s.std).toBeCloseTo(Math.sqrt(1 - (4 * phi2) / mass), 2);
    // One-sided: N(3, 1) cut to [3, 100] is the half normal, mean 3 + sqrt(2 / pi).
    const half = stats(values(init.truncNormal_(param([200000]), 3, 1, 3, 100)));
    expect(half.mean).toBeCloseTo(3 + Math.sqrt(2 / Math.PI), 2);
    expect(Math.min(...values(init.truncNormal_(param([1000]), 3, 1, 3, 100)))).toBeGreaterThanOrEqual(3);
    expect(() => init.truncNormal_(param([3]), 0, 0)).toThrow(/std must be a positive number; got 0/);
    expect(() => init.truncNormal_(param([3]), 0, 1, 2, -2)).toThrow(/a < b; got a = 2, b = -2/);
  });

  it('a given generator makes fills repeatable and leaves the default stream alone', () => {
    const a = param([4, 5]);
    const b = param([4, 5]);
    init.kaimingUniform_(a, { generator: new Generator(7) });
    init.kaimingUniform_(b, { generator: new Generator(7) });
    expect(values(a)).toEqual(values(b));
    manualSeed(5);
    const r1 = values(rand([3]));
    manualSeed(5);
    init.normal_(a, 0, 1, { generator: new Generator(1) });
    expect(values(rand([3]))).toEqual(r1);
  });
});

describe('utils', () => {
  const withGrads = (grads: number[][]) =>
    grads.map((g) => {
      const p = new Parameter(zeros([g.length]));
      p.grad = tensor(g);
      return p;
    });

  it('clipGradNorm_ returns the total norm and scales the gradients to maxNorm', () => {
    // Total 2-norm of [3, 4] and [12] is sqrt(9 + 16 + 144) = 13.
    const ps = withGrads([[3, 4], [12]]);
    const total = utils.clipGradNorm_(ps, 6.5);
    expect(total.ndim).toBe(0);
    expect(total.item()).toBeCloseTo(13, 5);
    const coef = 6.5 / (13 + 1e-6);
    expect(values(ps[0].grad!)[0]).toBeCloseTo(3 * coef, 5);
    expect(values(ps[1].grad!)[0]).toBeCloseTo(12 * coef, 5);
    // Already small enough: unchanged.
    const small = withGrads([[0.3, 0.4]]);
    expect(utils.clipGradNorm_(small, 1).item()).toBeCloseTo(0.5, 6);
    expect(values(small[0].grad!)).toEqual(values(tensor([0.3, 0.4])));
    // Other norms: max norm 12, 1-norm 19.
    expect(utils.clipGradNorm_(withGrads([[3, -4], [-12]]), 100, Infinity).item()).toBe(12);
    expect(utils.clipGradNorm_(withGrads([[3, -4], [-12]]), 100, 1).item()).toBeCloseTo(19, 5);
    // Parameters without gradients are skipped.
    expect(utils.clipGradNorm_([new Parameter(zeros([2]))], 1).item()).toBe(0);
    expect(() => utils.clipGradNorm_(withGrads([[Infinity]]), 1, 2, { errorIfNonfinite: true })).toThrowError(/non-finite/);
  });

  it('clipGradValue_ clamps each gradient element', () => {
    const ps = withGrads([[-3, 0.5, 2]]);
    utils.clipGradValue_(ps, 1);
    expect(values(ps[0].grad!)).toEqual([-1, 0.5, 1]);
  });

  it("stateDictFromPyTorch / stateDictToPyTorch convert PyTorch's snake_case keys, and refuse collisions", () => {
    const bn = new BatchNorm2d(3);
    const torchKeys = ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'];
    const theirs = Object.fromEntries(torchKeys.map((k, i) => [`layer1.0.bn_1.${k}`, i === 4 ? tensor(7, { dtype: 'int32' }) : tensor([i, i + 1, i + 2])]));
    const ours = utils.stateDictFromPyTorch(theirs);
    expect(Object.keys(ours)).toEqual(['layer1.0.bn1.weight', 'layer1.0.bn1.bias', 'layer1.0.bn1.runningMean', 'layer1.0.bn1.runningVar', 'layer1.0.bn1.numBatchesTracked']);
    const prefix = 'layer1.0.bn1.';
    bn.loadStateDict(Object.fromEntries(Object.entries(ours).map(([k, t]) => [k.slice(prefix.length), t])));
    expect(values(bn.runningVar as Tensor)).toEqual([3, 4, 5]);
    expect(Object.keys(utils.stateDictToPyTorch(bn.stateDict()))).toEqual(torchKeys);
    expect(Object.keys(utils.stateDictToPyTorch({ weightIhL0Reverse: tensor(1) }))).toEqual(['weight_ih_l0_reverse']);
    expect(Object.keys(utils.stateDictFromPyTorch(new Map([['in_proj_weight', tensor(1)]])))).toEqual(['inProjWeight']);
    expect(() => utils.stateDictFromPyTorch({ running_mean: tensor(1), runningMean: tensor(2) })).toThrow(/keys 'running_mean' and 'runningMean' both become 'runningMean'/);
  });

  it('parametersToVector and vectorToParameters round-trip', () => {
    const lin = new Linear(3, 2);
    const vec = utils.parametersToVector(lin.parameters());
    expect(vec.shape).toEqual([8]);
    expect(values(vec)).toEqual([...values(lin.weight), ...values(lin.bias!)]);
    utils.vectorToParameters(tensor([1, 2, 3, 4, 5, 6, 7, 8]), lin.parameters());
    expect(lin.weight.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(lin.bias!.toArray()).toEqual([7, 8]);
    expect(() => utils.vectorToParameters(tensor([1, 2]), lin.parameters())).toThrowError(/expected a 1-D vector of 8 elements/);
  });
});
