/**
 * gradcheck: compare autograd's gradients with central finite differences in
 * float64, for every input that requires grad (torch.autograd.gradcheck).
 */
import { DLError, type Tensor, scope, tensor } from '@dl/tensor';
import { grad } from './api.js';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
}

function sumOfOutputs(out: Tensor | readonly Tensor[], weights: readonly Tensor[]): Tensor {
  const outs = Array.isArray(out) ? out : [out as Tensor];
  let total: Tensor | null = null;
  outs.forEach((o, i) => {
    if (o.dtype !== 'float64' && o.dtype !== 'float32') return;
    const term = o.mul(weights[i]).sum();
    total = total ? total.add(term) : term;
  });
  if (!total) throw new DLError('ARGUMENT', 'gradcheck', 'the function returned no floating point output');
  return total;
}

/**
 * Checks d(sum_k w_k * out_k)/d(input) for fixed random weights w, which tests
 * the whole Jacobian-vector product of every output. Inputs must be float64.
 * Returns true, or throws naming the input, the element and both values.
 */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor | readonly Tensor[], inputs: readonly Tensor[], opts: GradcheckOptions = {}): true {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-3;
  for (const [i, x] of inputs.entries()) {
    if (x.requiresGrad && x.dtype !== 'float64') {
      throw new DLError('DTYPE', 'gradcheck', `input ${i} is ${x.dtype}; finite differences need float64`, "cast with x.to('float64') and set requiresGrad");
    }
  }
  return scope(() => {
    const probe = fn(...inputs);
    const outs = Array.isArray(probe) ? probe : [probe as Tensor];
    // Weights from a fixed pattern: deterministic and free of symmetry.
    const weights = outs.map((o) => tensor(Float64Array.from({ length: o.numel }, (_, k) => Math.sin(1 + 1.7 * k)), { shape: o.shape }).to(o.dtype));
    const wrt = inputs.filter((x) => x.requiresGrad);
    const analytic = grad([sumOfOutputs(fn(...inputs), weights)], wrt, undefined, { allowUnused: true });
    wrt.forEach((x, wi) => {
      const a = analytic[wi]?.dataSync() ?? new Float64Array(x.numel);
      const base = x.contiguous().dataSync() as Float64Array;
      for (let k = 0; k < x.numel; k++) {
        // Not under noGrad: fn may itself differentiate (double backward checks).
        const f = (delta: number) =>
          scope(() => {
            const values = base.slice();
            values[k] += delta;
            const xs = inputs.map((t) => (t === x ? tensor(values, { shape: x.shape, requiresGrad: true }) : t));
            return sumOfOutputs(fn(...xs), weights).item();
          });
        const numeric = (f(eps) - f(-eps)) / (2 * eps);
        if (!(Math.abs(a[k] - numeric) <= atol + rtol * Math.abs(numeric))) {
          throw new DLError('AUTOGRAD', 'gradcheck', `gradient mismatch for input ${inputs.indexOf(x)} at flat index ${k}: autograd gives ${a[k]}, finite differences give ${numeric} (atol ${atol}, rtol ${rtol})`);
        }
      }
    });
    return true as const;
  });
}
