/**
 * LBFGS: trajectories (parameters, returned loss, evaluation and iteration counts after each
 * step(closure)) against PyTorch 1.13 on the same float64 problems
 * (test/fixtures/torch_lbfgs.py; without a python3 that imports torch those tests skip, with the
 * reason in their names); then state dicts, early exits and errors.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tensor } from '@dl/tensor';
import type { Tensor } from '@dl/tensor';
import { LBFGS } from '../src/index.js';
import type { LBFGSOptions } from '../src/index.js';
import { expectDLErrors } from './helpers.js';

type Nested = number[] | number[][];
interface Run {
  problem: 'rosenbrock' | 'regression';
  start: Nested[];
  data?: { x: number[][]; y: number[][] };
  options: Partial<LBFGSOptions>;
  steps: number;
}
interface StepAnswer {
  loss: number;
  params: number[][];
  funcEvals: number;
  nIter: number;
}

const X = Array.from({ length: 8 }, (_, i) => [0, 1, 2].map((j) => Math.round(1000 * Math.sin(3 * i + j + 1)) / 1000));
const Y = X.map((row, i) => [Math.round(1000 * (1.5 * row[0] - 2 * row[1] + 0.5 * row[2] + 0.3 + 0.1 * Math.cos(i))) / 1000]);
const DATA = { x: X, y: Y };

/** The parameters and the closure of a problem, built with the operations of the fixture script. */
function problem(run: Run, make: (params: Tensor[]) => LBFGS): { params: Tensor[]; opt: LBFGS; closure: () => Tensor } {
  const params = run.start.map((v) => tensor(v, { dtype: 'float64', requiresGrad: true }));
  let objective: () => Tensor;
  if (run.problem === 'rosenbrock') {
    const [a, b, c] = params;
    objective = () =>
      b.sub(a.square()).square().mul(100)
        .add(a.neg().add(1).square())
        .add(c.sub(b.square()).square().mul(100))
        .add(b.neg().add(1).square())
        .sum();
  } else {
    const [w, bias] = params;
    const x = tensor(run.data?.x ?? [], { dtype: 'float64' });
    const y = tensor(run.data?.y ?? [], { dtype: 'float64' });
    objective = () => x.matmul(w).add(bias).sub(y).square().mean();
  }
  const opt = make(params);
  const closure = () => {
    opt.zeroGrad();
    const loss = objective();
    loss.backward();
    return loss;
  };
  return { params, opt, closure };
}

function runDl(run: Run): StepAnswer[] {
  const { params, opt, closure } = problem(run, (ps) => new LBFGS(ps, run.options));
  return Array.from({ length: run.steps }, () => {
    const loss = opt.step(closure);
    const state = opt.state.get(params[0]) ?? {};
    return { loss: typeof loss === 'number' ? loss : loss.item(), params: params.map((p) => Array.from(p.dataSync())), funcEvals: state.funcEvals as number, nIter: state.nIter as number };
  });
}

const ROSEN_START: Nested[] = [[-1.2], [1], [1.5]];
const REG_START: Nested[] = [[[0.1], [0.2], [0.3]], [0]];
const rosen = (options: Partial<LBFGSOptions>, steps: number): Run => ({ problem: 'rosenbrock', start: ROSEN_START, options, steps });
const regression = (options: Partial<LBFGSOptions>, steps: number): Run => ({ problem: 'regression', start: REG_START, data: DATA, options, steps });

const RUNS: [string, Run][] = [
  ['Rosenbrock, fixed steps of lr 1, maxIter 6', rosen({ maxIter: 6 }, 2)],
  ['Rosenbrock, lr 0.1, maxIter 5', rosen({ lr: 0.1, maxIter: 5 }, 3)],
  ['Rosenbrock, strong Wolfe line search, maxIter 5', rosen({ lineSearchFn: 'strong_wolfe', maxIter: 5 }, 3)],
  ['Rosenbrock, strong Wolfe, historySize 2, maxIter 4 (the history wraps)', rosen({ lineSearchFn: 'strong_wolfe', historySize: 2, maxIter: 4 }, 3)],
  ['Rosenbrock, strong Wolfe, maxEval 9 (the evaluation limit ends each step)', rosen({ lineSearchFn: 'strong_wolfe', maxEval: 9 }, 2)],
  ['Rosenbrock, lr 0.05, toleranceChange 0.5 (the small-step stop after one iteration)', rosen({ lr: 0.05, toleranceChange: 0.5 }, 2)],
  ['Rosenbrock from (0.8, 0.7, 0.5), strong Wolfe, to convergence (the gradient stop)', { ...rosen({ lineSearchFn: 'strong_wolfe' }, 3), start: [[0.8], [0.7], [0.5]] }],
  ['linear regression, defaults', regression({}, 2)],
  ['linear regression, strong Wolfe (converges: the gradient stop)', regression({ lineSearchFn: 'strong_wolfe' }, 3)],
  ['linear regression, lr 0.3, maxIter 5, historySize 2', regression({ lr: 0.3, maxIter: 5, historySize: 2 }, 4)],
];

const script = join(import.meta.dirname, 'fixtures', 'torch_lbfgs.py');
const python = ['/usr/bin/python3', 'python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);

// Measured: the largest |dl - torch| / (1 + |torch|) over the parameters and losses of every step of every run is
// 5.8e-13, and funcEvals and nIter are equal. The first 7 fixed-step iterations on Rosenbrock agree bit for bit; then
// ulp-level differences (the order of the sums in dot products) grow with Rosenbrock's ill-conditioning, to about
// 1e-12 after 20 iterations and 3e-10 after 20 line-search iterations: the runs stay short of that.
const TOL = 1e-10;

describe.skipIf(!python)('against PyTorch 1.13 (float64): parameters, loss, funcEvals and nIter after every step (skipped only where python3 with torch is missing)', () => {
  let answers: StepAnswer[][] | undefined;
  /** PyTorch's answers for every run (one python3 process for all). */
  function torchAnswers(): StepAnswer[][] {
    if (answers) return answers;
    const r = spawnSync(python as string, [script], { input: JSON.stringify(RUNS.map(([, run]) => run)), encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`${script} failed: ${r.stderr}`);
    answers = JSON.parse(r.stdout) as StepAnswer[][];
    return answers;
  }

  it.each(RUNS.map(([name, run], i) => [name, run, i] as const))('%s', (_name, run, i) => {
    const expected = torchAnswers()[i];
    const actual = runDl(run);
    let worst = 0;
    for (const [s, step] of actual.entries()) {
      const want = expected[s];
      expect([step.funcEvals, step.nIter], `step ${s + 1}: funcEvals, nIter`).toEqual([want.funcEvals, want.nIter]);
      const values = [step.loss, ...step.params.flat()];
      const wanted = [want.loss, ...want.params.flat()];
      for (const [k, v] of values.entries()) worst = Math.max(worst, Math.abs(v - wanted[k]) / (1 + Math.abs(wanted[k])));
      if (worst > TOL) throw new Error(`step ${s + 1}: dl ${JSON.stringify(step)}, torch ${JSON.stringify(want)}`);
    }
  });
});

describe('LBFGS', () => {
  const rosenOptions = { lineSearchFn: 'strong_wolfe' as const, maxIter: 4 };

  it('defaults as PyTorch: maxEval = floor(maxIter * 5 / 4)', () => {
    const p = tensor([1], { dtype: 'float64', requiresGrad: true });
    const g = new LBFGS([p]).paramGroups[0];
    expect([g.lr, g.maxIter, g.maxEval, g.toleranceGrad, g.toleranceChange, g.historySize, g.lineSearchFn]).toEqual([1, 20, 25, 1e-7, 1e-9, 100, null]);
    expect(new LBFGS([tensor([1], { requiresGrad: true })], { maxIter: 7 }).paramGroups[0].maxEval).toBe(8);
  });

  it('state dict: saved after a step and loaded into a fresh optimizer, the next steps agree bit for bit', () => {
    const run = rosen(rosenOptions, 0);
    const a = problem(run, (ps) => new LBFGS(ps, rosenOptions));
    a.opt.step(a.closure);
    const sd = a.opt.stateDict();
    expect(Object.keys(sd.state[0]).sort()).toEqual(['d', 'funcEvals', 'hDiag', 'nIter', 'oldDirs', 'oldStps', 'prevFlatGrad', 'prevLoss', 'ro', 't']);
    expect((sd.state[0].oldDirs as Tensor).shape).toEqual([(sd.state[0].ro as Tensor).numel, 3]);
    const b = problem({ ...run, start: a.params.map((p) => p.toArray() as Nested) }, (ps) => new LBFGS(ps, rosenOptions));
    b.opt.loadStateDict(sd);
    for (let i = 0; i < 3; i++) {
      expect(b.opt.step(b.closure)).toEqual(a.opt.step(a.closure));
      for (const [k, p] of b.params.entries()) expect(Array.from(p.dataSync())).toEqual(Array.from(a.params[k].dataSync()));
    }
    expect(b.opt.state.get(b.params[0])?.funcEvals).toBe(a.opt.state.get(a.params[0])?.funcEvals);
  });

  it('returns at once, with the first loss, when the gradient is already below toleranceGrad', () => {
    const run: Run = { problem: 'rosenbrock', start: [[1], [1], [1]], options: {}, steps: 1 };
    const { params, opt, closure } = problem(run, (ps) => new LBFGS(ps));
    const loss = opt.step(closure) as Tensor;
    expect(loss.item()).toBe(0);
    expect(params.map((p) => p.item())).toEqual([1, 1, 1]);
    expect(opt.state.get(params[0])).toEqual({ funcEvals: 1, nIter: 0 });
  });

  it('errors', () => {
    const p = tensor([1], { dtype: 'float64', requiresGrad: true });
    const q = tensor([1], { dtype: 'float64', requiresGrad: true });
    const cases: [() => unknown, RegExp][] = [
      [() => new LBFGS([{ params: [p] }, { params: [q], lr: 0.1 }]), /^LBFGS: per-parameter options \(parameter groups\) are not supported; got 2 groups\nhint: pass the parameters as one list/],
      [() => new LBFGS([p], { lineSearchFn: 'backtracking' as never }), /^LBFGS: invalid lineSearchFn: backtracking; only 'strong_wolfe' is supported\nhint: pass lineSearchFn: 'strong_wolfe', or null/],
      [() => new LBFGS([p], { line_search_fn: 'strong_wolfe' } as never), /^LBFGS: unknown option 'line_search_fn'.*\nhint: options are camelCase: use 'lineSearchFn'$/],
      [() => new LBFGS([p], { lr: 0 }), /^LBFGS: invalid learning rate: 0; expected lr > 0$/],
      [() => new LBFGS([p], { historySize: 0 }), /^LBFGS: invalid historySize: 0; expected an integer >= 1$/],
      [() => new LBFGS([p], { maxIter: 2.5 }), /^LBFGS: invalid maxIter: 2.5; expected an integer >= 1$/],
      [() => new LBFGS([p]).step(), /^LBFGS: step needs a closure that re-evaluates the model and returns the loss\nhint: opt.step\(\(\) => \{ opt.zeroGrad\(\);/],
      [() => new LBFGS([p]).step((() => undefined) as never), /^LBFGS: the closure must return the loss \(a Tensor or a number\); got undefined\nhint: end the closure with: return loss$/],
    ];
    expectDLErrors(cases);
  });
});
