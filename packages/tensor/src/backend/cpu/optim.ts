/**
 * Fused optimizer updates of the TypeScript CPU backend (OptimizerKernels): one plain loop per
 * parameter doing, element by element, exactly the arithmetic of @dl/optim's per-tensor path
 * (torch.optim's foreach=False algorithms): every intermediate is rounded to the parameter's
 * dtype (Math.fround for float32, as a Float32Array store would) and every scalar is converted
 * to that dtype as a scalar operand is, so both paths give the same bits.
 *
 * The native backend's C++ kernels (native/src/optim.cc) follow the same sequence and take the
 * Adam bias corrections from `adamScalars`, computed here in JavaScript, so they match too.
 */
import type { TypedArray } from '../../dtype.js';
import type { AdamStepAttrs, OptimizerKernels, SgdStepAttrs, TensorArg } from '../types.js';
import { numelOf } from './strided.js';

type Arg = TensorArg<TypedArray>;

const keepDouble = (v: number) => v;
/** Rounding to a float tensor's dtype: float32 values are rounded, float64 ones kept. */
const roundingOf = (a: Arg) => (a.dtype === 'float32' ? Math.fround : keepDouble);

/** Adam's step size lr / (1 - beta1^t) and sqrt(1 - beta2^t), as @dl/optim computes them. */
export function adamScalars(attrs: AdamStepAttrs): { stepSize: number; biasCorrection2Sqrt: number } {
  const biasCorrection1 = 1 - attrs.beta1 ** attrs.step;
  const biasCorrection2 = 1 - attrs.beta2 ** attrs.step;
  return { stepSize: attrs.lr / biasCorrection1, biasCorrection2Sqrt: Math.sqrt(biasCorrection2) };
}

function sgd(params: readonly Arg[], grads: readonly Arg[], momentumBufs: readonly Arg[] | null, attrs: SgdStepAttrs): void {
  const { momentum, weightDecay, nesterov, maximize, firstStep } = attrs;
  params.forEach((pa, i) => {
    const r = roundingOf(pa);
    const wd = r(weightDecay);
    const mom = r(momentum);
    const keep = r(1 - attrs.dampening);
    const step = r(-attrs.lr);
    const p = pa.buf;
    const grad = grads[i].buf;
    const ba = momentumBufs?.[i];
    const buf = ba?.buf;
    const n = numelOf(pa.shape);
    for (let k = 0, ip = pa.offset, ig = grads[i].offset, ib = ba?.offset ?? 0; k < n; k++, ip++, ig++, ib++) {
      let g = maximize ? -grad[ig] : grad[ig];
      if (weightDecay !== 0) g = r(g + r(p[ip] * wd));
      if (buf) {
        const b = firstStep ? g : r(r(buf[ib] * mom) + r(g * keep));
        buf[ib] = b;
        g = nesterov ? r(g + r(b * mom)) : b;
      }
      p[ip] = r(p[ip] + r(g * step));
    }
  });
}

function adam(
  params: readonly Arg[],
  grads: readonly Arg[],
  expAvgs: readonly Arg[],
  expAvgSqs: readonly Arg[],
  maxExpAvgSqs: readonly Arg[] | null,
  attrs: AdamStepAttrs,
): void {
  const { lr, beta1, beta2, weightDecay, decoupledWeightDecay, maximize } = attrs;
  const { stepSize, biasCorrection2Sqrt } = adamScalars(attrs);
  params.forEach((pa, i) => {
    const r = roundingOf(pa);
    const decay = r(1 - lr * weightDecay);
    const wd = r(weightDecay);
    const b1 = r(beta1);
    const b2 = r(beta2);
    const ob1 = r(1 - beta1);
    const ob2 = r(1 - beta2);
    const bc2 = r(biasCorrection2Sqrt);
    const eps = r(attrs.eps);
    const step = r(-stepSize);
    const p = pa.buf;
    const grad = grads[i].buf;
    const m = expAvgs[i].buf;
    const v = expAvgSqs[i].buf;
    const va = maxExpAvgSqs?.[i];
    const vmax = va?.buf;
    const n = numelOf(pa.shape);
    let ip = pa.offset;
    let ig = grads[i].offset;
    let im = expAvgs[i].offset;
    let iv = expAvgSqs[i].offset;
    let ix = va?.offset ?? 0;
    for (let k = 0; k < n; k++, ip++, ig++, im++, iv++, ix++) {
      let g = maximize ? -grad[ig] : grad[ig];
      if (weightDecay !== 0) {
        if (decoupledWeightDecay) p[ip] = r(p[ip] * decay);
        else g = r(g + r(p[ip] * wd));
      }
      const mk = r(r(m[im] * b1) + r(g * ob1));
      m[im] = mk;
      const vk = r(r(v[iv] * b2) + r(r(g * g) * ob2));
      v[iv] = vk;
      let second = vk;
      if (vmax) {
        // maximum(): a NaN in either operand wins.
        const prev = vmax[ix];
        second = prev > vk || Number.isNaN(prev) ? prev : vk;
        vmax[ix] = second;
      }
      const denom = r(r(r(Math.sqrt(second)) / bc2) + eps);
      p[ip] = r(p[ip] + r(r(mk / denom) * step));
    }
  });
}

export const cpuOptim: OptimizerKernels<TypedArray> = { sgd, adam };
