import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manualSeed, onesLike, rand, randint, randn, tensor, zeros } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { grad, gradcheck } from '@dl/autograd';
import { BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, F, HuberLoss, KLDivLoss, L1Loss, MSELoss, NLLLoss, SmoothL1Loss } from '../src/index.js';
import type { CrossEntropyOptions, KLDivOptions, KLDivReduction, Module } from '../src/index.js';
import { python, caught as err } from './helpers.js';

const values = (t: Tensor) => Array.from(t.dataSync());
const close = (a: number, b: number, tol = 1e-6) => expect(Math.abs(a - b)).toBeLessThan(tol);
const int = (data: number[] | number[][]) => tensor(data, { dtype: 'int32' });
const f64 = (data: number[] | number[][]) => tensor(data, { dtype: 'float64' });

// The 2x3 example: logits x, class targets y = [1, 0].
const X = [
  [1, 2, 3],
  [1, -1, 0],
];
const logSoftmaxRow = (row: number[]) => {
  const lse = Math.log(row.reduce((a, v) => a + Math.exp(v), 0));
  return row.map((v) => v - lse);
};
const LOGP = X.map(logSoftmaxRow);

describe('CrossEntropyLoss, worked by hand on a 2x3 example', () => {
  const x = () => f64(X);
  const y = int([1, 0]);

  it('plain: mean of -log softmax(x)[y]', () => {
    const l0 = -LOGP[0][1];
    const l1 = -LOGP[1][0];
    close(new CrossEntropyLoss().forward(x(), y).item(), (l0 + l1) / 2);
    close(F.crossEntropy(x(), y).item(), 0.9076059644443802);
    close(F.crossEntropy(x(), y, { reduction: 'sum' }).item(), l0 + l1);
    expect(values(F.crossEntropy(x(), y, { reduction: 'none' })).map((v) => Math.round(v * 1e9))).toEqual([l0, l1].map((v) => Math.round(v * 1e9)));
  });

  it('weighted: the mean divides by the sum of the weights of the targets', () => {
    const w = [0.2, 0.3, 0.5];
    const expected = (w[1] * -LOGP[0][1] + w[0] * -LOGP[1][0]) / (w[1] + w[0]);
    close(new CrossEntropyLoss({ weight: f64(w) }).forward(x(), y).item(), expected);
    close(expected, 1.0076059644443802);
    close(F.crossEntropy(x(), y, { weight: f64(w), reduction: 'sum' }).item(), w[1] * -LOGP[0][1] + w[0] * -LOGP[1][0]);
  });

  it('label smoothing s: (1 - s) * nll + (s / C) * sum over classes of -log p', () => {
    const s = 0.1;
    const C = 3;
    const per = [0, 1].map((n) => (1 - s) * -LOGP[n][[1, 0][n]] + (s / C) * LOGP[n].reduce((a, v) => a - v, 0));
    close(new CrossEntropyLoss({ labelSmoothing: s }).forward(x(), y).item(), (per[0] + per[1]) / 2);
    close((per[0] + per[1]) / 2, 0.9576059644443803);
    // It equals cross entropy against the smoothed distribution (1 - s) * onehot + s / C.
    const smoothed = f64([
      [s / C, 1 - s + s / C, s / C],
      [1 - s + s / C, s / C, s / C],
    ]);
    close(F.crossEntropy(x(), smoothed).item(), (per[0] + per[1]) / 2);
  });

  it('weight + label smoothing + ignoreIndex', () => {
    const s = 0.1;
    const C = 3;
    const w = [0.2, 0.3, 0.5];
    const t = [1, 0];
    const per = [0, 1].map((n) => (1 - s) * w[t[n]] * -LOGP[n][t[n]] + (s / C) * LOGP[n].reduce((a, v, c) => a - w[c] * v, 0));
    const ce = new CrossEntropyLoss({ weight: f64(w), labelSmoothing: s });
    close(ce.forward(x(), y).item(), (per[0] + per[1]) / (w[1] + w[0]));
    close((per[0] + per[1]) / (w[1] + w[0]), 1.0811928299258595);
    // Ignoring the second item drops its loss and its weight from the normaliser.
    const ignoring = new CrossEntropyLoss({ weight: f64(w), labelSmoothing: s, ignoreIndex: -100 });
    close(ignoring.forward(x(), int([1, -100])).item(), per[0] / w[1]);
    expect(values(F.crossEntropy(x(), int([1, -100]), { weight: f64(w), labelSmoothing: s, reduction: 'none' }))[1]).toBe(0);
    // ignoreIndex may be a real class.
    close(F.crossEntropy(x(), y, { ignoreIndex: 0 }).item(), -LOGP[0][1]);
    // Everything ignored: 0 / 0 (NaN), as PyTorch.
    expect(F.crossEntropy(x(), int([-100, -100])).item()).toBeNaN();
  });

  it('class-probability targets: -sum_c w_c y_c log p_c, mean over items', () => {
    const probs = [
      [0.1, 0.6, 0.3],
      [1, 0, 0],
    ];
    const w = [0.2, 0.3, 0.5];
    const per = [0, 1].map((n) => probs[n].reduce((a, p, c) => a - w[c] * p * LOGP[n][c], 0));
    close(F.crossEntropy(x(), f64(probs), { weight: f64(w) }).item(), (per[0] + per[1]) / 2);
  });

  it('handles unbatched (C) inputs and (N, C, d) inputs', () => {
    close(F.crossEntropy(f64(X[0]), tensor(1, { dtype: 'int32' })).item(), -LOGP[0][1]);
    // (N=1, C=3, d=2): the two columns are the two rows of X.
    const spatial = f64(X).t().reshape([1, 3, 2]);
    close(F.crossEntropy(spatial, int([[1, 0]])).item(), (-LOGP[0][1] - LOGP[1][0]) / 2);
    expect(F.crossEntropy(spatial, int([[1, 0]]), { reduction: 'none' }).shape).toEqual([1, 2]);
  });

  it('gives clear errors for bad targets', () => {
    const oob = err(() => F.crossEntropy(x(), int([1, 3])));
    expect(oob.code).toBe('VALUE');
    expect(oob.message).toMatch(/crossEntropy: target 3 is out of bounds: there are 3 classes, so class indices must lie in \[0, 2\] \(or equal ignoreIndex -100\); got 3 at flat position 1/);
    expect(err(() => F.crossEntropy(x(), int([-1, 0]))).message).toMatch(/target -1 is out of bounds/);
    const dtype = err(() => F.crossEntropy(x(), tensor([1, 0], { dtype: 'uint8' })));
    expect(dtype.code).toBe('DTYPE');
    expect(dtype.message).toMatch(/class-index targets must be int32; got uint8\nhint: cast with target.to\('int32'\)/);
    const floatIdx = err(() => F.crossEntropy(x(), tensor([1, 0])));
    expect(floatIdx.code).toBe('SHAPE');
    expect(floatIdx.message).toMatch(/class-probability targets \(floating point\) must have the input's shape \[2, 3\]; got float32 target of shape \[2\]\nhint: for class indices use an int32 target/);
    expect(err(() => F.crossEntropy(x(), int([1, 0, 2]))).message).toMatch(/expected a target of shape \[2\] for an input of shape \[2, 3\]; got target shape \[3\]/);
    expect(err(() => F.crossEntropy(x(), y, { weight: f64([1, 2]) })).message).toMatch(/weight must be a 1-D tensor with one entry per class \(3\)/);
    expect(err(() => F.crossEntropy(x(), y, { reduction: 'avg' as 'mean' })).message).toMatch(/reduction must be 'mean', 'sum' or 'none'; got "avg"/);
    expect(err(() => new CrossEntropyLoss({ labelSmoothing: 2 })).message).toMatch(/labelSmoothing has to be between 0 and 1/);
    expect(err(() => F.crossEntropy(int([1, 2]) as Tensor, y)).code).toBe('DTYPE');
  });

  it('passes gradcheck: weight + label smoothing + ignoreIndex, probability targets, spatial', () => {
    manualSeed(21);
    const input = randn([4, 5], { dtype: 'float64' }).requiresGrad_();
    const target = int([1, -100, 4, 0]);
    const weight = rand([5], { dtype: 'float64' }).add(0.5);
    const ce = new CrossEntropyLoss({ weight, labelSmoothing: 0.15, ignoreIndex: -100 });
    expect(gradcheck((t) => ce.forward(t, target), [input])).toBe(true);
    expect(gradcheck((t) => F.crossEntropy(t, target, { weight, reduction: 'none', labelSmoothing: 0.3 }), [input])).toBe(true);
    const probs = randn([4, 5], { dtype: 'float64' }).softmax(1).requiresGrad_();
    expect(gradcheck((t, p) => F.crossEntropy(t, p, { labelSmoothing: 0.1, weight }), [input, probs])).toBe(true);
    const spatial = randn([2, 3, 2, 2], { dtype: 'float64' }).requiresGrad_();
    const spatialTarget = randint(0, 3, [2, 2, 2]);
    expect(gradcheck((t) => F.crossEntropy(t, spatialTarget), [spatial])).toBe(true);
  });
});

describe('crossEntropy with class indices (the fused op) against the composed formula', () => {
  /** PyTorch's definition written with nllLoss and logSoftmax (the path class indices took before the fused op). */
  function composed(x: Tensor, t: Tensor, opts: CrossEntropyOptions): Tensor {
    const { weight = null, ignoreIndex = -100, labelSmoothing: s = 0, reduction = 'mean' } = opts;
    const c = x.shape[1];
    const logp = x.logSoftmax(1);
    const nll = F.nllLoss(logp, t, { weight, ignoreIndex, reduction: 'none' });
    const wshape = x.shape.map((d, i) => (i === 1 ? d : 1));
    const smooth = (weight ? logp.mul(weight.reshape(wshape)) : logp).sum(1).neg().mul(t.ne(ignoreIndex).to(x.dtype));
    const per = nll.mul(1 - s).add(smooth.mul(s / c));
    if (reduction === 'none') return per;
    if (reduction === 'sum') return per.sum();
    // sum of w[t] over the targets not ignored: nllLoss of all -1 log-probabilities
    return per.sum().div(F.nllLoss(onesLike(x).neg(), t, { weight, ignoreIndex, reduction: 'sum' }));
  }

  const cases: [string, CrossEntropyOptions][] = [
    ['plain', {}],
    ['weight', { weight: f64([0.2, 0.3, 0.5, 1.5, 0.7]) }],
    ['ignoreIndex', { ignoreIndex: 1 }],
    ['label smoothing', { labelSmoothing: 0.25 }],
    ['weight + ignoreIndex + label smoothing', { weight: f64([0.2, 0.3, 0.5, 1.5, 0.7]), ignoreIndex: -100, labelSmoothing: 0.1 }],
  ];
  const reductions = ['mean', 'sum', 'none'] as const;

  it.each(cases)('%s: values and gradients agree for every reduction, (N, C) and (N, C, d1, d2), float64 and float32', (_name, base) => {
    manualSeed(5);
    const inputs = [randn([7, 5], { dtype: 'float64' }).mul(3), randn([2, 5, 3, 2], { dtype: 'float64' }).mul(3)];
    for (const x64 of inputs) {
      const shape = [x64.shape[0], ...x64.shape.slice(2)];
      const labels = Int32Array.from(randint(0, 5, shape).dataSync());
      // One item carries the default ignoreIndex (where that is the one in use).
      if ((base.ignoreIndex ?? -100) === -100) labels[0] = -100;
      const target = tensor(labels, { shape });
      for (const dtype of ['float64', 'float32'] as const) {
        const tol = dtype === 'float64' ? 1e-12 : 2e-5;
        const weight = base.weight?.to(dtype) ?? null;
        for (const reduction of reductions) {
          const opts = { ...base, weight, reduction };
          const a = x64.detach().to(dtype).requiresGrad_();
          const b = x64.detach().to(dtype).requiresGrad_();
          const fused = F.crossEntropy(a, target, opts);
          const ref = composed(b, target, opts);
          expect(fused.shape).toEqual(ref.shape);
          const want = values(ref);
          for (const [i, v] of values(fused).entries()) close(v, want[i], tol * (1 + Math.abs(v)));
          fused.backward(onesLike(fused));
          ref.backward(onesLike(ref));
          const wantGrad = values(b.grad!);
          for (const [i, v] of values(a.grad!).entries()) close(v, wantGrad[i], tol);
        }
      }
    }
  });

  it('second derivatives pass gradcheck (createGraph through crossEntropyBackward)', () => {
    manualSeed(23);
    const input = randn([4, 5], { dtype: 'float64' }).requiresGrad_();
    const target = int([1, -100, 4, 0]);
    const weight = rand([5], { dtype: 'float64' }).add(0.5);
    const gradNormSq = (t: Tensor) => {
      const [g] = grad([F.crossEntropy(t, target, { weight, labelSmoothing: 0.15 })], [t], undefined, { createGraph: true });
      return g!.pow(2).sum();
    };
    expect(gradcheck(gradNormSq, [input])).toBe(true);
  });
});

describe('NLLLoss', () => {
  it('is -w[y] * input[y] on log-probabilities, weighted mean', () => {
    const logp = f64(LOGP);
    const w = [1, 2, 3];
    close(new NLLLoss().forward(logp, int([1, 0])).item(), F.crossEntropy(f64(X), int([1, 0])).item());
    close(new NLLLoss({ weight: f64(w) }).forward(logp, int([2, 1])).item(), (3 * -LOGP[0][2] + 2 * -LOGP[1][1]) / 5);
    expect(values(F.nllLoss(f64([[-1, -2], [-3, -4]]), int([1, -100]), { reduction: 'none' }))).toEqual([2, 0]);
    expect(() => F.nllLoss(logp, tensor([[0.5, 0.5, 0], [1, 0, 0]]))).toThrowError(/class-index targets must be int32; got float32/);
  });

  it('passes gradcheck', () => {
    manualSeed(22);
    const input = randn([3, 4], { dtype: 'float64' }).requiresGrad_();
    expect(gradcheck((t) => F.nllLoss(t, int([3, 0, -100]), { weight: f64([1, 2, 3, 4]) }), [input])).toBe(true);
  });
});

describe('MSELoss and L1Loss', () => {
  it('compute known values and refuse mismatched shapes', () => {
    const a = tensor([1, 2, 3]);
    const b = tensor([2, 2, 5]);
    expect(new MSELoss().forward(a, b).item()).toBeCloseTo(5 / 3, 6);
    expect(new MSELoss({ reduction: 'sum' }).forward(a, b).item()).toBe(5);
    expect(new L1Loss().forward(a, b).item()).toBe(1);
    expect(values(new L1Loss({ reduction: 'none' }).forward(a, b))).toEqual([1, 0, 2]);
    expect(() => F.mseLoss(zeros([4, 1]), zeros([4]))).toThrowError(/mseLoss: target shape \[4\] must equal input shape \[4, 1\]/);
  });

  it('pass gradcheck (input and target)', () => {
    manualSeed(23);
    const a = randn([3, 2], { dtype: 'float64' }).requiresGrad_();
    const b = randn([3, 2], { dtype: 'float64' }).requiresGrad_();
    expect(gradcheck((x, y) => F.mseLoss(x, y), [a, b])).toBe(true);
    expect(gradcheck((x, y) => F.l1Loss(x, y, { reduction: 'sum' }), [a, b])).toBe(true);
  });
});

describe('BCEWithLogitsLoss and BCELoss', () => {
  const sig = (v: number) => 1 / (1 + Math.exp(-v));

  it('matches -w [pw y log s(x) + (1 - y) log(1 - s(x))]', () => {
    const xs = [0.5, -1, 2];
    const ys = [1, 0, 0.25];
    const pw = 3;
    const w = [1, 2, 0.5];
    const per = xs.map((v, i) => -w[i] * (pw * ys[i] * Math.log(sig(v)) + (1 - ys[i]) * Math.log(1 - sig(v))));
    const loss = new BCEWithLogitsLoss({ weight: f64(w), posWeight: f64([pw]) });
    close(loss.forward(f64(xs), f64(ys)).item(), (per[0] + per[1] + per[2]) / 3);
    const plain = xs.map((v, i) => -(ys[i] * Math.log(sig(v)) + (1 - ys[i]) * Math.log(1 - sig(v))));
    close(F.binaryCrossEntropyWithLogits(f64(xs), f64(ys), { reduction: 'sum' }).item(), plain.reduce((a, b) => a + b));
    // BCELoss on the probabilities agrees.
    close(new BCELoss().forward(f64(xs.map(sig)), f64(ys)).item(), plain.reduce((a, b) => a + b) / 3);
  });

  it('is stable for large logits and has the right gradient at 0', () => {
    const l = F.binaryCrossEntropyWithLogits(tensor([200, -200]), tensor([0, 1]), { reduction: 'none' });
    expect(values(l)).toEqual([200, 200]);
    expect(F.binaryCrossEntropyWithLogits(tensor([200, -200]), tensor([1, 0])).item()).toBe(0);
    // d/dx at x = 0 is sigmoid(0) - y = 0.5 - y.
    const x = zeros([2], { requiresGrad: true });
    F.binaryCrossEntropyWithLogits(x, tensor([1, 0]), { reduction: 'sum' }).backward();
    expect(values(x.grad!)).toEqual([-0.5, 0.5]);
    // BCELoss clamps log at -100 and keeps gradients finite at 0 and 1.
    const p = tensor([0, 1], { requiresGrad: true });
    expect(F.binaryCrossEntropy(p, tensor([1, 0]), { reduction: 'none' }).toArray()).toEqual([100, 100]);
    F.binaryCrossEntropy(p, tensor([1, 0])).backward();
    expect(values(p.grad!).every(Number.isFinite)).toBe(true);
    expect(() => F.binaryCrossEntropy(tensor([1.5]), tensor([1]))).toThrowError(/all elements of input should be between 0 and 1/);
  });

  it('pass gradcheck (input and target, with weight and posWeight per class)', () => {
    manualSeed(24);
    const x = randn([3, 4], { dtype: 'float64' }).requiresGrad_();
    const y = rand([3, 4], { dtype: 'float64' }).requiresGrad_();
    const posWeight = rand([4], { dtype: 'float64' }).mul(3);
    const weight = rand([3, 1], { dtype: 'float64' });
    const loss = new BCEWithLogitsLoss({ weight, posWeight });
    expect(gradcheck((a, b) => loss.forward(a, b), [x, y])).toBe(true);
    const p = rand([5], { dtype: 'float64' }).mul(0.9).add(0.05).requiresGrad_();
    expect(gradcheck((a) => F.binaryCrossEntropy(a, f64([1, 0, 0.5, 1, 0])), [p])).toBe(true);
  });
});

describe('SmoothL1Loss, HuberLoss and KLDivLoss', () => {
  // Float64 definitions, element by element (PyTorch's documented formulas).
  const smoothL1 = (d: number, beta: number) => (beta === 0 ? Math.abs(d) : Math.abs(d) < beta ? (0.5 * d * d) / beta : Math.abs(d) - 0.5 * beta);
  const huber = (d: number, delta: number) => (Math.abs(d) < delta ? 0.5 * d * d : delta * (Math.abs(d) - 0.5 * delta));
  /** p (log p - log q) with 0 log 0 = 0; with a log target t: exp(t) (t - log q). */
  const kl = (logq: number, p: number, logTarget: boolean) => (logTarget ? Math.exp(p) * (p - logq) : p === 0 ? 0 : p * (Math.log(p) - logq));
  const reduced = (per: number[], reduction: KLDivReduction, batch: number) => {
    const sum = per.reduce((a, v) => a + v, 0);
    return reduction === 'none' ? per : reduction === 'sum' ? [sum] : reduction === 'mean' ? [sum / per.length] : [sum / batch];
  };
  const expectClose = (actual: number[], expected: number[], tol: number) => {
    expect(actual.length).toBe(expected.length);
    for (const [i, v] of actual.entries()) close(v, expected[i], tol * (1 + Math.abs(expected[i])));
  };

  it('match the float64 definitions for every reduction and threshold (beta 0 is L1, Huber is delta * SmoothL1 with beta = delta)', () => {
    manualSeed(31);
    const a = randn([4, 5], { dtype: 'float64' }).mul(2);
    const b = randn([4, 5], { dtype: 'float64' });
    const d = values(a).map((v, i) => v - values(b)[i]);
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      for (const beta of [1, 0.3, 2.5, 0]) {
        expectClose(values(F.smoothL1Loss(a, b, { reduction, beta })), reduced(d.map((v) => smoothL1(v, beta)), reduction, 4), 1e-15);
        expectClose(values(new SmoothL1Loss({ reduction, beta }).forward(a, b)), reduced(d.map((v) => smoothL1(v, beta)), reduction, 4), 1e-15);
      }
      for (const delta of [1, 0.3, 2.5]) {
        expectClose(values(F.huberLoss(a, b, { reduction, delta })), reduced(d.map((v) => huber(v, delta)), reduction, 4), 1e-15);
        expectClose(values(new HuberLoss({ reduction, delta }).forward(a, b)), values(F.smoothL1Loss(a, b, { reduction, beta: delta }).mul(delta)), 1e-15);
      }
    }
    expect(values(F.smoothL1Loss(a, b))).toEqual(values(F.huberLoss(a, b)));
    expect(values(F.smoothL1Loss(a, b, { beta: 0 }))).toEqual(values(F.l1Loss(a, b)));
  });

  it('have the gradient of PyTorch at the kink |input - target| = beta (+-1 for SmoothL1, +-delta for Huber) and 0 at input = target', () => {
    // input - target = [beta, -beta, 0, beta / 2, 3 beta], exactly.
    const target = f64([0.25, 0.25, 0.25, 0, 0]);
    for (const beta of [1, 0.5, 2]) {
      const x = f64([0.25 + beta, 0.25 - beta, 0.25, beta / 2, 3 * beta]).requiresGrad_();
      const t = target.detach().requiresGrad_();
      const l = F.smoothL1Loss(x, t, { beta, reduction: 'none' });
      expect(values(l)).toEqual([0.5 * beta, 0.5 * beta, 0, beta / 8, 2.5 * beta]);
      l.sum().backward();
      expect(values(x.grad!)).toEqual([1, -1, 0, 0.5, 1]);
      expect(values(t.grad!)).toEqual([-1, 1, -0, -0.5, -1]);
      const xh = x.detach().requiresGrad_();
      F.huberLoss(xh, target, { delta: beta }).backward();
      expect(values(xh.grad!)).toEqual([beta, -beta, 0, beta / 2, beta].map((v) => v / 5));
    }
    // beta = 0 (L1): sign(input - target), 0 at input = target.
    const x = f64([1, -1, 0.25]).requiresGrad_();
    F.smoothL1Loss(x, f64([0, 0, 0.25]), { beta: 0, reduction: 'sum' }).backward();
    expect(values(x.grad!)).toEqual([1, -1, 0]);
  });

  it('klDiv: the float64 definition for every reduction, log targets, 0 (not NaN) where the target is 0, and batchmean is the KL divergence', () => {
    manualSeed(32);
    const logq = randn([3, 4], { dtype: 'float64' }).logSoftmax(1);
    const pData = values(randn([3, 4], { dtype: 'float64' }).softmax(1));
    pData[1] = 0;
    pData[6] = 0;
    const p = f64(pData).reshape([3, 4]);
    const logp = randn([3, 4], { dtype: 'float64' }).logSoftmax(1);
    for (const reduction of ['mean', 'batchmean', 'sum', 'none'] as const) {
      const want = reduced(values(logq).map((v, i) => kl(v, pData[i], false)), reduction, 3);
      expectClose(values(F.klDiv(logq, p, { reduction })), want, 1e-15);
      expectClose(values(new KLDivLoss({ reduction }).forward(logq, p)), want, 1e-15);
      const wantLog = reduced(values(logq).map((v, i) => kl(v, values(logp)[i], true)), reduction, 3);
      expectClose(values(F.klDiv(logq, logp, { reduction, logTarget: true })), wantLog, 1e-15);
    }
    const none = values(F.klDiv(logq, p, { reduction: 'none' }));
    expect([none[1], none[6]]).toEqual([0, 0]);
    expect(none.every(Number.isFinite)).toBe(true);
    // batchmean: the mean over the rows of KL(p_row || q_row); 'mean' also divides by the 4 classes.
    const rowsKL = [0, 1, 2].map((r) => [0, 1, 2, 3].reduce((acc, c) => acc + kl(values(logq)[r * 4 + c], pData[r * 4 + c], false), 0));
    close(new KLDivLoss({ reduction: 'batchmean' }).forward(logq, p).item(), (rowsKL[0] + rowsKL[1] + rowsKL[2]) / 3, 1e-15);
    close(F.klDiv(logq, p).item(), (rowsKL[0] + rowsKL[1] + rowsKL[2]) / 12, 1e-15);
    // The input's gradient is -p / numel ('mean'): finite, and 0 where p = 0; the target's too.
    const x = logq.detach().requiresGrad_();
    const t = p.detach().requiresGrad_();
    F.klDiv(x, t).backward();
    expectClose(values(x.grad!), pData.map((v) => -v / 12), 1e-15);
    expect(values(t.grad!).every(Number.isFinite)).toBe(true);
    // A 0-dim input: batchmean is the sum.
    close(F.klDiv(f64([-1]).reshape([]), f64([0.5]).reshape([]), { reduction: 'batchmean' }).item(), kl(-1, 0.5, false), 1e-15);
  });

  it('pass gradcheck (input and target, away from the kinks; every reduction)', () => {
    manualSeed(33);
    const a = randn([3, 4], { dtype: 'float64' }).mul(2).requiresGrad_();
    const b = randn([3, 4], { dtype: 'float64' }).requiresGrad_();
    const d = values(a).map((v, i) => v - values(b)[i]);
    for (const t of [1, 0.5]) expect(d.every((v) => Math.abs(Math.abs(v) - t) > 1e-3 && Math.abs(v) > 1e-3)).toBe(true);
    expect(gradcheck((x, y) => F.smoothL1Loss(x, y), [a, b])).toBe(true);
    expect(gradcheck((x, y) => F.smoothL1Loss(x, y, { beta: 0.5, reduction: 'none' }), [a, b])).toBe(true);
    expect(gradcheck((x, y) => F.huberLoss(x, y, { delta: 0.5, reduction: 'sum' }), [a, b])).toBe(true);
    expect(gradcheck((x, y) => new HuberLoss().forward(x, y), [a, b])).toBe(true);
    const logq = randn([3, 4], { dtype: 'float64' }).logSoftmax(1).detach().requiresGrad_();
    const p = randn([3, 4], { dtype: 'float64' }).softmax(1).detach().requiresGrad_();
    const logp = randn([3, 4], { dtype: 'float64' }).logSoftmax(1).detach().requiresGrad_();
    for (const reduction of ['mean', 'batchmean', 'sum', 'none'] as const) {
      expect(gradcheck((x, y) => F.klDiv(x, y, { reduction }), [logq, p])).toBe(true);
      expect(gradcheck((x, y) => F.klDiv(x, y, { reduction, logTarget: true }), [logq, logp])).toBe(true);
    }
  });

  it('give clear errors for bad options and shapes', () => {
    const x = zeros([4, 1]);
    expect(err(() => F.smoothL1Loss(x, zeros([4]))).message).toMatch(/^smoothL1Loss: target shape \[4\] must equal input shape \[4, 1\]\nhint: PyTorch would broadcast/);
    expect(err(() => new HuberLoss().forward(x, zeros([1, 4]))).message).toMatch(/^huberLoss: target shape \[1, 4\] must equal input shape \[4, 1\]/);
    expect(err(() => F.klDiv(x, zeros([4]))).message).toMatch(/^klDiv: target shape \[4\] must equal input shape \[4, 1\]/);
    expect(err(() => new SmoothL1Loss({ beta: -1 })).message).toBe('SmoothL1Loss: beta must be a number >= 0; got -1\nhint: beta = 0 is the L1 loss');
    expect(err(() => F.smoothL1Loss(x, x, { beta: Number.NaN })).message).toMatch(/^smoothL1Loss: beta must be a number >= 0; got NaN/);
    expect(err(() => new HuberLoss({ delta: 0 })).message).toMatch(/^HuberLoss: delta must be a number > 0; got 0\nhint: /);
    expect(err(() => F.huberLoss(x, x, { delta: '1' as unknown as number })).message).toMatch(/^huberLoss: delta must be a number > 0; got "1"/);
    expect(err(() => new KLDivLoss({ reduction: 'avg' as KLDivReduction })).message).toBe("KLDivLoss: reduction must be 'mean', 'batchmean', 'sum' or 'none'; got \"avg\"");
    expect(err(() => F.klDiv(x, x, { logTarget: 1 as unknown as boolean })).message).toBe('klDiv: logTarget must be true or false; got 1');
    expect(err(() => F.smoothL1Loss(x, x, { reduction: 'batchmean' as 'mean' })).message).toMatch(/reduction must be 'mean', 'sum' or 'none'; got "batchmean"/);
    expect(err(() => F.huberLoss(int([1, 2]), int([1, 2]))).code).toBe('DTYPE');
    expect(err(() => F.klDiv(x, [0, 1, 2, 3] as unknown as Tensor)).message).toMatch(/klDiv: target must be a Tensor; got an array/);
  });
});

const torchScript = join(import.meta.dirname, 'fixtures', 'torch_layers1d.py');

describe.skipIf(!python)('SmoothL1Loss, HuberLoss and KLDivLoss against PyTorch 1.13 (skipped only where python3 with torch is missing)', () => {
  interface LossCase {
    module: 'SmoothL1Loss' | 'HuberLoss' | 'KLDivLoss';
    kwargs: Record<string, unknown>;
    make: () => Module;
    /** input, target; and whether the target gets a gradient (not where PyTorch's is NaN: target 0 of a non-log KLDiv). */
    inputs: () => [Tensor, Tensor];
    targetGrad: boolean;
  }
  /** Random values, then the kinks exactly: input - target = [t, -t, 0] for threshold t. */
  const regression = (t: number): [Tensor, Tensor] => {
    const x = values(randn([4, 5], { dtype: 'float64' }).mul(2));
    const y = values(randn([4, 5], { dtype: 'float64' }));
    [x[0], x[1], x[2], y[0], y[1], y[2]] = [0.25 + t, 0.25 - t, 0.25, 0.25, 0.25, 0.25];
    return [f64(x).reshape([4, 5]), f64(y).reshape([4, 5])];
  };
  const klInputs = (zeros: boolean, logTarget: boolean): [Tensor, Tensor] => {
    const logq = randn([3, 4], { dtype: 'float64' }).logSoftmax(1);
    if (logTarget) return [logq, randn([3, 4], { dtype: 'float64' }).logSoftmax(1)];
    const p = values(randn([3, 4], { dtype: 'float64' }).softmax(1));
    if (zeros) [p[0], p[5], p[11]] = [0, 0, 0];
    return [logq, f64(p).reshape([3, 4])];
  };
  const cases: LossCase[] = [];
  for (const [beta, reduction] of [[1, 'mean'], [0.5, 'sum'], [2, 'none'], [0, 'mean']] as const) {
    cases.push({ module: 'SmoothL1Loss', kwargs: { beta, reduction }, make: () => new SmoothL1Loss({ beta, reduction }), inputs: () => regression(beta), targetGrad: true });
  }
  for (const [delta, reduction] of [[1, 'mean'], [2.5, 'none'], [0.5, 'sum']] as const) {
    cases.push({ module: 'HuberLoss', kwargs: { delta, reduction }, make: () => new HuberLoss({ delta, reduction }), inputs: () => regression(delta), targetGrad: true });
  }
  for (const reduction of ['mean', 'batchmean', 'sum', 'none'] as const) {
    for (const [zeros, logTarget] of [[true, false], [false, false], [false, true]] as const) {
      const opts: KLDivOptions = { reduction, logTarget };
      cases.push({ module: 'KLDivLoss', kwargs: { ...opts }, make: () => new KLDivLoss(opts), inputs: () => klInputs(zeros, logTarget), targetGrad: !zeros });
    }
  }
  manualSeed(34);
  const runs = cases.map((c) => ({ c, inputs: c.inputs() }));
  const requests = runs.map(({ c, inputs }) => ({
    kind: 'run',
    module: c.module,
    args: [],
    kwargs: c.kwargs,
    state: {},
    inputs: inputs.map((t, i) => ({ shape: t.shape, values: values(t), requiresGrad: i === 0 || c.targetGrad })),
  }));
  const answers: { shape: number[]; output: number[]; grads: (number[] | null)[] }[] = (() => {
    if (!python) return [];
    const r = spawnSync(python, [torchScript], { input: JSON.stringify(requests), encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`${torchScript} failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
  })();

  it.each(runs.map((r, i) => [`${r.c.module} ${JSON.stringify(r.c.kwargs)}`, i] as const))('%s: values and gradients (float64, kinks included)', (_name, i) => {
    const { c, inputs } = runs[i];
    const want = answers[i];
    const [x, t] = inputs.map((v, k) => (k === 0 || c.targetGrad ? v.detach().requiresGrad_() : v));
    const y = c.make().forward(x, t);
    expect(y.shape).toEqual(want.shape);
    // Measured: values within 1.9e-16, gradients within 1.2e-16 (relative to 1 + |value|).
    const worst = (a: number[], b: number[]) => a.reduce((w, v, k) => Math.max(w, Math.abs(v - b[k]) / (1 + Math.abs(b[k]))), 0);
    expect(worst(values(y), want.output)).toBeLessThan(1e-14);
    y.mul(tensor(Float64Array.from({ length: y.numel }, (_, k) => Math.sin(1 + 0.7 * k)), { shape: y.shape })).sum().backward();
    const [gx, gt] = want.grads as number[][];
    if (c.kwargs.beta === 0) {
      // At input = target (elements 0 to 2 here) PyTorch 1.13 gives -1 (times the weight / 20) to
      // both; we give L1's 0, as PyTorch since pytorch/pytorch#97022.
      for (const k of [0, 1, 2]) {
        for (const g of [gx[k], gt[k]]) close(g, -Math.sin(1) / 20, 1e-16);
        expect([values(x.grad!)[k], values(t.grad!)[k]]).toEqual([0, -0]);
        [gx[k], gt[k]] = [0, -0];
      }
    }
    expect(worst(values(x.grad!), gx)).toBeLessThan(1e-14);
    if (c.targetGrad) expect(worst(values(t.grad!), gt)).toBeLessThan(1e-14);
  });
});
