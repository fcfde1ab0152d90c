/**
 * The error function (and gelu, which is built on it) for the CPU kernels,
 * accurate to about 3e-16 relative over all doubles (max observed 2.5e-16
 * against a 50-digit reference), hence also for float32.
 *
 * Two regions, both fitted for this file (Chebyshev interpolation of the exact
 * functions at 80 Chebyshev nodes in 50-digit arithmetic, truncated where the tail falls
 * below 1e-18 relative, then expanded into ordinary polynomial coefficients):
 *
 *  - |x| < 1:  erf(x) = x * P(x^2), P a degree-13 polynomial (an economised
 *    Taylor series: P(s) ~ 2/sqrt(pi) * sum (-s)^n / (n! (2n+1))).
 *  - 1 <= |x| < 6:  erf(|x|) = 1 - exp(-x^2) * G(t), where G approximates the
 *    smooth, slowly varying g(x) = exp(x^2) erfc(x) (~ 1/(x sqrt(pi))). The
 *    argument is mapped by u = (|x| - 3) / (|x| + 3) in [-1/2, 1/3], then
 *    t = (u + 1/12) * 12/5 in [-1, 1]; G has degree 18 in t.
 *  - |x| >= 6:  erf(x) = sign(x) (erfc(6) ~ 2e-17 is below half an ulp of 1).
 *
 * gelu uses 1 + erf(z) = erfc(|z|) directly for z <= -1, so its negative tail
 * keeps its relative accuracy (~1e-14) down to x ~ -8.5; below that it is -0
 * (|gelu| < 1e-16 there), as PyTorch's double evaluation of the formula gives.
 * gelu's derivative Phi(x) + x phi(x) = (1 + erf(z)) / 2 + x exp(-x^2 / 2) / sqrt(2 pi)
 * uses the same 1 + erf(z); its second term is 0 where the exp underflows, so gelu'(+-inf) is
 * 1 and 0 (PyTorch's formula gives inf * 0 = NaN there).
 *
 * The loop is written once, in `erfRow`, so that the kernels evaluate it inline
 * (no call per element); the scalar `erf` runs it on one element.
 */
import type { TypedArray } from '../../dtype.js';

// P(s), s = x^2, |x| < 1.
const A0 = 1.1283791670955126;
const A1 = -0.37612638903183754;
const A2 = 0.1128379167095512;
const A3 = -0.026866170645129854;
const A4 = 0.005223977625423455;
const A5 = -0.0008548327021945428;
const A6 = 0.00012055332903350668;
const A7 = -1.4925647581008593e-5;
const A8 = 1.6462045711013026e-6;
const A9 = -1.6364645854816389e-7;
const A10 = 1.479243542696247e-8;
const A11 = -1.2164764337224506e-9;
const A12 = 8.709755232851789e-11;
const A13 = -4.2320376764874594e-12;

// G(t), 1 <= |x| < 6.
const B0 = 0.20798329133342885;
const B1 = -0.15436117429436919;
const B2 = 0.0496984454033948;
const B3 = -0.012713147695691885;
const B4 = 0.002479314697072364;
const B5 = -0.00033160296057999636;
const B6 = 1.956358330911832e-5;
const B7 = 2.4255574907734528e-6;
const B8 = -5.541277486699158e-7;
const B9 = -4.5267543775640776e-9;
const B10 = 1.1340277187747311e-8;
const B11 = -2.637274148620311e-10;
const B12 = -2.5812754483820615e-10;
const B13 = 5.964757357313207e-12;
const B14 = 6.748923713460816e-12;
const B15 = 4.17650240397811e-14;
const B16 = -1.867773765295233e-13;
const B17 = -8.766844618747572e-15;
const B18 = 4.418730573272641e-15;

const U_SHIFT = 1 / 12;
const U_SCALE = 12 / 5;
const INV_SQRT_2PI = 0.3989422804014327;

/**
 * What erfRow computes: erf(x); gelu(x) = x * 0.5 * (1 + erf(x / sqrt(2))); or g * gelu'(x),
 * gelu's backward, with the gradient g read from `g`.
 */
export const ErfMode = { Erf: 0, Gelu: 1, GeluBackward: 2 } as const;
export type ErfMode = (typeof ErfMode)[keyof typeof ErfMode];

/**
 * y[iy + i*sy] = f(x[ix + i*sx]) for i < n, f as `mode` says (GeluBackward also reads
 * g[ig + i*sg]). NaN gives NaN.
 */
export function erfRow(
  mode: ErfMode,
  x: TypedArray,
  ix: number,
  sx: number,
  y: TypedArray,
  iy: number,
  sy: number,
  n: number,
  g?: TypedArray,
  ig = 0,
  sg = 0,
): void {
  const gelu = mode !== ErfMode.Erf;
  for (let i = 0; i < n; i++, ix += sx, iy += sy, ig += sg) {
    const v = x[ix];
    const z = gelu ? v * Math.SQRT1_2 : v;
    const az = z < 0 ? -z : z;
    let e: number; // erf(z)
    let h: number; // 1 + erf(z), kept accurate for z <= -1 where it is erfc(|z|)
    if (az < 1) {
      const s = z * z;
      e =
        z *
        (A0 + s * (A1 + s * (A2 + s * (A3 + s * (A4 + s * (A5 + s * (A6 + s * (A7 + s * (A8 + s * (A9 + s * (A10 + s * (A11 + s * (A12 + s * A13)))))))))))));
      h = 1 + e;
    } else if (az < 6) {
      const t = ((az - 3) / (az + 3) + U_SHIFT) * U_SCALE;
      const g =
        B0 + t * (B1 + t * (B2 + t * (B3 + t * (B4 + t * (B5 + t * (B6 + t * (B7 + t * (B8 + t * (B9 +
        t * (B10 + t * (B11 + t * (B12 + t * (B13 + t * (B14 + t * (B15 + t * (B16 + t * (B17 + t * B18)))))))))))))))));
      const c = Math.exp(-az * az) * g; // erfc(|z|)
      if (z < 0) {
        e = c - 1;
        h = c;
      } else {
        e = 1 - c;
        h = 2 - c;
      }
    } else {
      // |z| >= 6 (or NaN, which fails both comparisons above).
      e = z > 0 ? 1 : z < 0 ? -1 : z;
      h = 1 + e;
    }
    if (mode === ErfMode.Erf) y[iy] = e;
    else if (mode === ErfMode.Gelu) y[iy] = v * 0.5 * h;
    else {
      const d = Math.exp(-0.5 * v * v); // 0 from |v| ~ 38.6 on: the density term's limit, also at +-inf
      y[iy] = g![ig] * (0.5 * h + (d === 0 ? 0 : v * (d * INV_SQRT_2PI)));
    }
  }
}

const one = new Float64Array(1);

/** The error function of one number (see the file comment for accuracy). */
export function erf(x: number): number {
  one[0] = x;
  erfRow(ErfMode.Erf, one, 0, 0, one, 0, 0, 1);
  return one[0];
}

/** gelu of one number: x * 0.5 * (1 + erf(x / sqrt(2))). */
export function gelu(x: number): number {
  one[0] = x;
  erfRow(ErfMode.Gelu, one, 0, 0, one, 0, 0, 1);
  return one[0];
}
