/** Scalar math the elementwise reference kernels need beyond `Math`. */

const ONE_OVER_SQRT_PI = 1 / Math.sqrt(Math.PI);

/**
 * The error function, accurate to about 1 ulp (usually correctly rounded).
 *
 * For |x| < 3 it sums the Maclaurin series
 *   erf(x) = 2/sqrt(pi) * x * sum_{n>=0} (-x^2)^n / (n! (2n+1))
 * in double-double arithmetic (about 32 significant digits), so the cancellation
 * between its alternating terms (at most ~1e3 / 0.3 at x = 3) costs nothing.
 * For |x| >= 3 it uses erf(x) = 1 - erfc(x) with the continued fraction
 *   erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))),
 * evaluated from a fixed depth backwards; erfc(3) ~ 2e-5, so the few-ulp error of
 * erfc is far below erf's last bit.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return -erf(-x);
  if (x >= 3) return 1 - erfcContinuedFraction(x);
  const x2 = twoProd(x, x); // x^2 exactly, as a double-double
  let term: DD = [1, 0]; // (-x^2)^n / n!
  let sum: DD = [1, 0];
  for (let n = 1; n < 200; n++) {
    term = ddDiv(ddMul(term, x2), -n);
    const contribution = ddDiv(term, 2 * n + 1);
    sum = ddAdd(sum, contribution);
    if (Math.abs(contribution[0]) < 1e-34 * sum[0]) break;
  }
  return ddMul(ddMul(TWO_OVER_SQRT_PI, sum), [x, 0])[0];
}

/** erfc(x) for x >= 3 by its continued fraction (see erf). */
function erfcContinuedFraction(x: number): number {
  if (x === Infinity) return 0;
  let t = x;
  for (let k = 120; k >= 1; k--) t = x + k / 2 / t;
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / t;
}

// ---- double-double arithmetic: a value is hi + lo with |lo| <= ulp(hi) / 2.
// (Dekker / Knuth error-free transformations; inputs here are far from overflow.)
type DD = readonly [hi: number, lo: number];

/** 2/sqrt(pi) as a double-double. */
const TWO_OVER_SQRT_PI: DD = [1.1283791670955126, 1.533545961316588e-17];

/** s + e = a + b exactly. */
function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bVirtual = s - a;
  const e = a - (s - bVirtual) + (b - bVirtual);
  return [s, e];
}

/** s + e = a + b exactly, given |a| >= |b|. */
function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return [s, b - (s - a)];
}

/** Splits a into hi + lo, each with at most 26 significant bits. */
function split(a: number): DD {
  const c = 134217729 * a; // 2^27 + 1
  const hi = c - (c - a);
  return [hi, a - hi];
}

/** p + e = a * b exactly. */
function twoProd(a: number, b: number): DD {
  const p = a * b;
  const [ah, al] = split(a);
  const [bh, bl] = split(b);
  const e = ah * bh - p + ah * bl + al * bh + al * bl;
  return [p, e];
}

function ddAdd(a: DD, b: DD): DD {
  const [s, e] = twoSum(a[0], b[0]);
  const [t, f] = twoSum(a[1], b[1]);
  const [s2, e2] = quickTwoSum(s, e + t);
  return quickTwoSum(s2, e2 + f);
}

function ddMul(a: DD, b: DD): DD {
  const [p, e] = twoProd(a[0], b[0]);
  return quickTwoSum(p, e + (a[0] * b[1] + a[1] * b[0]));
}

function ddDiv(a: DD, b: number): DD {
  const q1 = a[0] / b;
  const [p, e] = twoProd(q1, b);
  const remainder = a[0] - p - e + a[1];
  return quickTwoSum(q1, remainder / b);
}

/** Round half to even (banker's rounding), as torch.round. Keeps -0 for (-0.5, -0]. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // nearest, ties toward +Infinity; exact
  // r - x is exact here; a tie rounded up to an odd integer goes back down.
  if (r - x === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/** sign as in PyTorch: -1, 0 or 1; NaN stays NaN; sign(-0) is 0. */
export function sign(x: number): number {
  if (Number.isNaN(x)) return NaN;
  return x > 0 ? 1 : x < 0 ? -1 : 0;
}

/** relu as torch.relu: negatives (and -0) become 0, NaN stays NaN. */
export function relu(x: number): number {
  return Math.max(x, 0); // Math.max propagates NaN and prefers +0 over -0
}

/** gelu, exact erf form: x * 0.5 * (1 + erf(x / sqrt(2))). */
export function gelu(x: number): number {
  return x * 0.5 * (1 + erf(x / Math.SQRT2));
}

/** d gelu / dx = Phi(x) + x phi(x): the normal distribution plus x times its density (0 at +-inf, its limit). */
export function geluDerivative(x: number): number {
  const density = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
  return 0.5 * (1 + erf(x / Math.SQRT2)) + (density === 0 ? 0 : x * density);
}

/**
 * Integer power with the wrap-around of `mul` (e.g. Math.imul), as PyTorch's
 * integer pow: a negative exponent gives 1 for base 1, +-1 for base -1, else 0.
 */
export function integerPow(base: number, exp: number, mul: (a: number, b: number) => number): number {
  if (exp < 0) {
    if (base === 1) return 1;
    if (base === -1) return exp % 2 === 0 ? 1 : -1;
    return 0;
  }
  // Square and multiply, wrapping at every step.
  let result = 1;
  let b = base;
  let e = exp;
  while (e > 0) {
    if (e % 2 === 1) result = mul(result, b);
    b = mul(b, b);
    e = Math.floor(e / 2);
  }
  return result;
}
