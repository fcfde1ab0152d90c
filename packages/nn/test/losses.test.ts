import { describe, expect, it } from 'vitest';
import { type DLError, manualSeed, onesLike, rand, randint, randn, tensor, zeros } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { grad, gradcheck } from '@dl/autograd';
import { BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, F, L1Loss, MSELoss, NLLLoss } from '../src/index.js';
import type { CrossEntropyOptions } from '../src/index.js';

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
    const err = (fn: () => unknown): DLError => {
      try {
        fn();
      } catch (e) {
        return e as DLError;
      }
      throw new Error('expected an error');
    };
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
