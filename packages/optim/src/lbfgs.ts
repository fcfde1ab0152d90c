/** L-BFGS (torch.optim.LBFGS). */
import { DLError, Tensor, tensor } from '@dl/tensor';
import { enableGrad, noGrad } from '@dl/autograd';
import { Optimizer, checkHyper, resolveOptions } from './optimizer.js';
import type { Closure, OptimizerStateDict, ParamGroup, ParamState, Params } from './optimizer.js';

export interface LBFGSOptions {
  /** Learning rate: the initial step length of each iteration (default 1). */
  lr: number;
  /** Iterations per step() (default 20). */
  maxIter: number;
  /** Loss evaluations per step() (default null: maxIter * 5 / 4, rounded down). */
  maxEval: number | null;
  /** Stop when the largest gradient entry is at most this (default 1e-7). */
  toleranceGrad: number;
  /** Stop when the step or the change of the loss is below this (default 1e-9). */
  toleranceChange: number;
  /** Curvature pairs kept (default 100). */
  historySize: number;
  /** null (default: a fixed step of lr) or 'strong_wolfe' (a line search meeting the strong Wolfe conditions). */
  lineSearchFn: 'strong_wolfe' | null;
}

export const LBFGS_DEFAULTS: Readonly<LBFGSOptions> = { lr: 1, maxIter: 20, maxEval: null, toleranceGrad: 1e-7, toleranceChange: 1e-9, historySize: 100, lineSearchFn: null };

type Vec = Float64Array;

function dot(a: Vec, b: Vec): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
const maxAbs = (a: Vec) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const sumAbs = (a: Vec) => a.reduce((s, x) => s + Math.abs(x), 0);
/** a + alpha * b, as a new vector. */
const axpy = (a: Vec, alpha: number, b: Vec) => a.map((x, i) => x + alpha * b[i]);

/**
 * The minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, clamped
 * to [lo, hi] (default: between x1 and x2); the midpoint when the cubic has no minimum.
 */
function cubicMin(x1: number, f1: number, g1: number, x2: number, f2: number, g2: number, bounds?: [number, number]): number {
  const [lo, hi] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const disc = d1 * d1 - g1 * g2;
  if (disc < 0) return (lo + hi) / 2;
  const d2 = Math.sqrt(disc);
  const at = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)) : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
  return Math.min(Math.max(at, lo), hi);
}

/** The loss and flat gradient at x + t * d. */
type Evaluate = (t: number) => { f: number; g: Vec };

/**
 * A step length t along d from (f, g) meeting the strong Wolfe conditions
 * (f(t) <= f + c1 t g.d and |g(t).d| <= c2 |g.d|), by bracketing then zooming with cubic
 * interpolation (Nocedal & Wright, algorithms 3.5 and 3.6), at most maxLs evaluations.
 */
function strongWolfe(evaluate: Evaluate, t0: number, d: Vec, f: number, g: Vec, gtd: number): { f: number; g: Vec; t: number; evals: number } {
  const c1 = 1e-4;
  const c2 = 0.9;
  // As PyTorch, the line search uses its own tolerance and limit, not the optimizer's options.
  const toleranceChange = 1e-9;
  const maxLs = 25;
  const dNorm = maxAbs(d);
  let t = t0;
  let { f: fNew, g: gNew } = evaluate(t);
  let evals = 1;
  let gtdNew = dot(gNew, d);
  let [tPrev, fPrev, gPrev, gtdPrev] = [0, f, g, gtd];
  let done = false;
  let iter = 0;
  let bracket: number[] = [];
  let bracketF: number[] = [];
  let bracketG: Vec[] = [];
  let bracketGtd: number[] = [];
  // Bracketing: grow t until an interval is known to hold an acceptable step.
  while (iter < maxLs) {
    // Not sufficiently lower, or the slope at t is acceptable, or it turned upwards (checked in that order).
    const higher = fNew > f + c1 * t * gtd || (iter > 1 && fNew >= fPrev);
    if (!higher && Math.abs(gtdNew) <= -c2 * gtd) {
      [bracket, bracketF, bracketG] = [[t], [fNew], [gNew]];
      done = true;
      break;
    }
    if (higher || gtdNew >= 0) {
      [bracket, bracketF, bracketG, bracketGtd] = [[tPrev, t], [fPrev, fNew], [gPrev, gNew], [gtdPrev, gtdNew]];
      break;
    }
    const next = cubicMin(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, [t + 0.01 * (t - tPrev), t * 10]);
    [tPrev, fPrev, gPrev, gtdPrev] = [t, fNew, gNew, gtdNew];
    t = next;
    ({ f: fNew, g: gNew } = evaluate(t));
    evals++;
    gtdNew = dot(gNew, d);
    iter++;
  }
  if (iter === maxLs) [bracket, bracketF, bracketG] = [[0, t], [f, fNew], [g, gNew]];

  // Zoom: shrink the bracket, keeping at `low` the point with the lower loss.
  let insufficientProgress = false;
  let [low, high] = bracketF[0] <= bracketF[bracketF.length - 1] ? [0, 1] : [1, 0];
  while (!done && iter < maxLs) {
    if (Math.abs(bracket[1] - bracket[0]) * dNorm < toleranceChange) break;
    t = cubicMin(bracket[0], bracketF[0], bracketGtd[0], bracket[1], bracketF[1], bracketGtd[1]);
    // A trial too close to an end of the bracket makes little progress: the second time, move it inside by eps.
    const [lo, hi] = [Math.min(...bracket), Math.max(...bracket)];
    const eps = 0.1 * (hi - lo);
    if (Math.min(hi - t, t - lo) < eps) {
      if (insufficientProgress || t >= hi || t <= lo) {
        t = Math.abs(t - hi) < Math.abs(t - lo) ? hi - eps : lo + eps;
        insufficientProgress = false;
      } else insufficientProgress = true;
    } else insufficientProgress = false;
    ({ f: fNew, g: gNew } = evaluate(t));
    evals++;
    gtdNew = dot(gNew, d);
    iter++;
    if (fNew > f + c1 * t * gtd || fNew >= bracketF[low]) {
      [bracket[high], bracketF[high], bracketG[high], bracketGtd[high]] = [t, fNew, gNew, gtdNew];
      [low, high] = bracketF[0] <= bracketF[1] ? [0, 1] : [1, 0];
    } else {
      if (Math.abs(gtdNew) <= -c2 * gtd) done = true;
      else if (gtdNew * (bracket[high] - bracket[low]) >= 0) {
        [bracket[high], bracketF[high], bracketG[high], bracketGtd[high]] = [bracket[low], bracketF[low], bracketG[low], bracketGtd[low]];
      }
      [bracket[low], bracketF[low], bracketG[low], bracketGtd[low]] = [t, fNew, gNew, gtdNew];
    }
  }
  return { f: bracketF[low], g: bracketG[low], t: bracket[low], evals };
}

/** The state entries that are vectors over all the parameters' entries (flattened, in order). */
const VECTOR_KEYS = ['d', 'prevFlatGrad', 'oldDirs', 'oldStps', 'ro'] as const;

/**
 * Limited-memory BFGS, as torch.optim.LBFGS: step(closure) runs up to maxIter
 * iterations, each moving along the two-loop-recursion direction from the last
 * historySize curvature pairs, by lr (or a strong Wolfe line search), re-evaluating the
 * loss with the closure (which must zero the gradients, run the model, call backward()
 * and return the loss). It stops early on a small gradient (toleranceGrad), a small step
 * or loss change (toleranceChange), or after maxEval evaluations, as PyTorch; a later
 * step() continues with the saved history.
 *
 * The parameters are treated as one flat vector: one parameter group only (as PyTorch).
 * The direction, the history and the arithmetic are float64 on the host, so float64
 * parameters follow PyTorch's trajectory; float32 ones are more accurate than PyTorch's
 * float32 arithmetic, not equal to it. The state (on the first parameter, as PyTorch):
 * `funcEvals`, `nIter`, `t`, `hDiag`, `prevLoss` (numbers) and, after the first
 * iteration, `d`, `prevFlatGrad` (float64 CPU tensors [n]), `oldDirs`, `oldStps` ([k, n])
 * and `ro` ([k]).
 */
export class LBFGS extends Optimizer<LBFGSOptions> {
  constructor(params: Params<LBFGSOptions>, options?: Partial<LBFGSOptions>) {
    const resolved: LBFGSOptions = { ...resolveOptions('LBFGS', LBFGS_DEFAULTS, options) };
    // PyTorch fills maxEval in the defaults, so the group (and its state dict) holds the number.
    if (resolved.maxEval === null && typeof resolved.maxIter === 'number') resolved.maxEval = Math.floor((resolved.maxIter * 5) / 4);
    super(params, resolved);
    if (this.paramGroups.length !== 1) {
      this.fail('VALUE', `per-parameter options (parameter groups) are not supported; got ${this.paramGroups.length} groups`, 'pass the parameters as one list: new LBFGS(model.parameters(), { ... })');
    }
  }

  protected override validateGroup(group: ParamGroup<LBFGSOptions>): void {
    const op = this.name;
    const posInt = (x: number) => Number.isInteger(x) && x >= 1;
    checkHyper(op, 'learning rate', group.lr, (x) => Number.isFinite(x) && x > 0, 'lr > 0');
    checkHyper(op, 'maxIter', group.maxIter, posInt, 'an integer >= 1');
    checkHyper(op, 'maxEval', group.maxEval, posInt, 'an integer >= 1 (or null for maxIter * 5 / 4)');
    checkHyper(op, 'toleranceGrad', group.toleranceGrad, (x) => x >= 0, 'a number >= 0');
    checkHyper(op, 'toleranceChange', group.toleranceChange, (x) => x >= 0, 'a number >= 0');
    checkHyper(op, 'historySize', group.historySize, posInt, 'an integer >= 1');
    if (group.lineSearchFn !== null && group.lineSearchFn !== 'strong_wolfe') {
      this.fail('VALUE', `invalid lineSearchFn: ${String(group.lineSearchFn)}; only 'strong_wolfe' is supported`, "pass lineSearchFn: 'strong_wolfe', or null for fixed steps of lr");
    }
  }

  /** Never called: step() is overridden, since L-BFGS must evaluate the loss several times. */
  protected updateGroup(): void {
    this.fail('ARGUMENT', 'step needs a closure that re-evaluates the model and returns the loss');
  }

  private get params(): Tensor[] {
    return this.paramGroups[0].params;
  }

  /** The gradients as one float64 vector (zeros for a parameter without one). */
  private flatGrad(): Vec {
    const out = new Float64Array(this.params.reduce((n, p) => n + p.numel, 0));
    let offset = 0;
    for (const p of this.params) {
      if (p.grad !== null) out.set(p.grad.dataSync(), offset);
      offset += p.numel;
    }
    return out;
  }

  private flatParams(): Vec {
    const out = new Float64Array(this.params.reduce((n, p) => n + p.numel, 0));
    let offset = 0;
    for (const p of this.params) {
      out.set(p.dataSync(), offset);
      offset += p.numel;
    }
    return out;
  }

  /** Write a flat vector into the parameters, in place. */
  private setParams(x: Vec): void {
    let offset = 0;
    noGrad(() => {
      for (const p of this.params) {
        const v = tensor(x.subarray(offset, offset + p.numel), { dtype: p.dtype, device: p.device, shape: p.shape as number[] });
        p.copy_(v);
        v.dispose();
        offset += p.numel;
      }
    });
  }

  /** Run the closure (gradients enabled); its loss and the loss as a number. */
  private evaluate(closure: Closure): { loss: Tensor | number; f: number } {
    const loss = enableGrad(closure);
    if (loss instanceof Tensor) return { loss, f: loss.item() };
    if (typeof loss !== 'number') this.fail('ARGUMENT', `the closure must return the loss (a Tensor or a number); got ${loss === null ? 'null' : typeof loss}`, 'end the closure with: return loss');
    return { loss, f: loss };
  }

  /**
   * Up to maxIter L-BFGS iterations. `closure` must re-evaluate the loss: zero the
   * gradients, run the model, call backward() and return the loss. Returns the loss of
   * the first evaluation (before any update), as PyTorch.
   */
  override step(closure?: Closure): Tensor | number {
    if (typeof closure !== 'function') {
      this.fail('ARGUMENT', 'step needs a closure that re-evaluates the model and returns the loss', 'opt.step(() => { opt.zeroGrad(); const loss = lossFn(model(x), y); loss.backward(); return loss; })');
    }
    const { lr, maxIter, toleranceGrad, toleranceChange, historySize, lineSearchFn } = this.paramGroups[0];
    const maxEval = this.paramGroups[0].maxEval as number;
    const state = this.stateOf(this.params[0]);
    state.funcEvals = (state.funcEvals as number | undefined) ?? 0;
    state.nIter = (state.nIter as number | undefined) ?? 0;

    const first = this.evaluate(closure);
    let loss = first.f;
    let currentEvals = 1;
    state.funcEvals += 1;
    let g = this.flatGrad();
    if (maxAbs(g) <= toleranceGrad) return first.loss;

    const saved = this.loadHistory(state);
    let { d, prevFlatGrad: prevG } = saved;
    const { oldDirs, oldStps, ro } = saved;
    let t = state.t as number | undefined;
    let hDiag = (state.hDiag as number | undefined) ?? 1;
    let prevLoss = state.prevLoss as number | undefined;

    for (let nIter = 1; nIter <= maxIter; nIter++) {
      state.nIter += 1;
      if (state.nIter === 1 || d === undefined || prevG === undefined || t === undefined) {
        d = g.map((x) => -x);
        oldDirs.length = 0;
        oldStps.length = 0;
        ro.length = 0;
        hDiag = 1;
      } else {
        // Update the history with the last step s and gradient change y (skipped unless the curvature y.s is positive).
        const y = g.map((x, i) => x - (prevG as Vec)[i]);
        const s = d.map((x) => x * (t as number));
        const ys = dot(y, s);
        if (ys > 1e-10) {
          if (oldDirs.length === historySize) {
            oldDirs.shift();
            oldStps.shift();
            ro.shift();
          }
          oldDirs.push(y);
          oldStps.push(s);
          ro.push(1 / ys);
          hDiag = ys / dot(y, y);
        }
        // The two-loop recursion: d = -H g, H the inverse-Hessian approximation of the history over hDiag * I.
        const al = new Array<number>(oldDirs.length);
        const q = g.map((x) => -x);
        for (let i = oldDirs.length - 1; i >= 0; i--) {
          al[i] = dot(oldStps[i], q) * ro[i];
          for (let j = 0; j < q.length; j++) q[j] += -al[i] * oldDirs[i][j];
        }
        const r = q.map((x) => x * hDiag);
        for (let i = 0; i < oldDirs.length; i++) {
          const be = dot(oldDirs[i], r) * ro[i];
          for (let j = 0; j < r.length; j++) r[j] += (al[i] - be) * oldStps[i][j];
        }
        d = r;
      }
      prevG = g;
      prevLoss = loss;
      // The first iteration ever is scaled down by the gradient's size, later ones start from lr.
      t = state.nIter === 1 ? Math.min(1, 1 / sumAbs(g)) * lr : lr;
      const gtd = dot(g, d);
      if (gtd > -toleranceChange) break;

      let lsEvals = 0;
      let optimal = false;
      if (lineSearchFn === 'strong_wolfe') {
        const x0 = this.flatParams();
        const dir = d;
        const result = strongWolfe(
          (step) => {
            this.setParams(axpy(x0, step, dir));
            const { f } = this.evaluate(closure);
            const grad = this.flatGrad();
            this.setParams(x0);
            return { f, g: grad };
          },
          t, d, loss, g, gtd,
        );
        ({ f: loss, g, t, evals: lsEvals } = result);
        this.setParams(axpy(x0, t, d));
        optimal = maxAbs(g) <= toleranceGrad;
      } else {
        this.setParams(axpy(this.flatParams(), t, d));
        if (nIter !== maxIter) {
          loss = this.evaluate(closure).f;
          g = this.flatGrad();
          optimal = maxAbs(g) <= toleranceGrad;
          lsEvals = 1;
        }
      }
      currentEvals += lsEvals;
      state.funcEvals += lsEvals;

      if (nIter === maxIter || currentEvals >= maxEval || optimal) break;
      if (maxAbs(d) * Math.abs(t) <= toleranceChange) break;
      if (Math.abs(loss - prevLoss) < toleranceChange) break;
    }

    state.t = t as number;
    state.hDiag = hDiag;
    state.prevLoss = prevLoss as number;
    this.saveHistory(state, { d: d as Vec, prevFlatGrad: prevG as Vec, oldDirs, oldStps, ro });
    return first.loss;
  }

  private loadHistory(state: ParamState): { d?: Vec; prevFlatGrad?: Vec; oldDirs: Vec[]; oldStps: Vec[]; ro: number[] } {
    const vec = (k: string) => (state[k] instanceof Tensor ? Float64Array.from((state[k] as Tensor).dataSync()) : undefined);
    const rows = (k: string) => {
      const m = state[k];
      if (!(m instanceof Tensor) || m.shape[0] === 0) return [];
      const flat = Float64Array.from(m.dataSync());
      const n = m.shape[1];
      return Array.from({ length: m.shape[0] }, (_, i) => flat.slice(i * n, (i + 1) * n));
    };
    return { d: vec('d'), prevFlatGrad: vec('prevFlatGrad'), oldDirs: rows('oldDirs'), oldStps: rows('oldStps'), ro: Array.from(vec('ro') ?? []) };
  }

  private saveHistory(state: ParamState, h: { d: Vec; prevFlatGrad: Vec; oldDirs: Vec[]; oldStps: Vec[]; ro: number[] }): void {
    const n = h.d.length;
    const matrix = (rows: Vec[]) => {
      const flat = new Float64Array(rows.length * n);
      for (const [i, r] of rows.entries()) flat.set(r, i * n);
      return tensor(flat, { shape: [rows.length, n] });
    };
    this.setState(state, 'd', tensor(h.d));
    this.setState(state, 'prevFlatGrad', tensor(h.prevFlatGrad));
    this.setState(state, 'oldDirs', matrix(h.oldDirs));
    this.setState(state, 'oldStps', matrix(h.oldStps));
    this.setState(state, 'ro', tensor(Float64Array.from(h.ro)));
  }

  /**
   * As Optimizer.loadStateDict, with the vector entries (over all the parameters'
   * entries, not of the first parameter's shape) checked and copied here.
   */
  override loadStateDict(stateDict: OptimizerStateDict): void {
    const entry = (stateDict?.state as Record<number, ParamState> | undefined)?.[0];
    if (entry === undefined || typeof entry !== 'object' || entry === null) {
      super.loadStateDict(stateDict);
      return;
    }
    const n = this.params.reduce((s, p) => s + p.numel, 0);
    const vectors: ParamState = {};
    const rest: ParamState = {};
    for (const [k, v] of Object.entries(entry)) {
      if ((VECTOR_KEYS as readonly string[]).includes(k)) vectors[k] = v;
      else rest[k] = v;
    }
    const k = vectors.ro instanceof Tensor ? vectors.ro.numel : 0;
    const expected: Record<string, number[]> = { d: [n], prevFlatGrad: [n], oldDirs: [k, n], oldStps: [k, n], ro: [k] };
    for (const [key, v] of Object.entries(vectors)) {
      const shape = expected[key];
      if (!(v instanceof Tensor) || v.isDisposed || v.shape.length !== shape.length || v.shape.some((x, i) => x !== shape[i])) {
        throw new DLError('SHAPE', this.name, `loadStateDict: state[0].${key} must be a tensor of shape [${shape.join(', ')}] (the parameters have ${n} entries, the history ${k} pairs); got ${v instanceof Tensor ? `shape [${v.shape.join(', ')}]` : typeof v}`, 'load a state dict saved from an LBFGS over the same parameters');
      }
    }
    super.loadStateDict({ ...stateDict, state: { ...stateDict.state, 0: rest } });
    const state = this.stateOf(this.params[0]);
    for (const [key, v] of Object.entries(vectors)) {
      this.setState(state, key, tensor(Float64Array.from((v as Tensor).dataSync()), { shape: (v as Tensor).shape as number[] }));
    }
  }
}
