/** Printing like PyTorch: `tensor([[1., 2.],\n        [3., 4.]], dtype=float32)`, summarised when large. */
import { isFloating } from './dtype.js';
import type { Tensor } from './tensor.js';

const THRESHOLD = 1000;
const EDGE = 3;

function formatter(values: number[], dtype: Tensor['dtype']): (v: number) => string {
  if (dtype === 'bool') return (v) => (v ? 'True' : 'False');
  if (!isFloating(dtype)) return (v) => String(v);
  const finite = values.filter(Number.isFinite);
  const allInt = finite.every(Number.isInteger);
  const absMax = Math.max(0, ...finite.map(Math.abs));
  const nz = finite.filter((v) => v !== 0).map(Math.abs);
  const absMin = nz.length ? Math.min(...nz) : 0;
  const sci = absMax >= 1e8 || (absMin > 0 && (absMin < 1e-4 || absMax / absMin > 1e3 && !allInt));
  const special = (v: number) => (Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf');
  if (sci) return (v) => (Number.isFinite(v) ? v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2') : special(v));
  if (allInt) return (v) => (Number.isFinite(v) ? `${v.toFixed(0)}.` : special(v));
  return (v) => (Number.isFinite(v) ? v.toFixed(4) : special(v));
}

export function formatTensor(t: Tensor): string {
  if (t.isDisposed) return `tensor(<disposed>, shape=[${t.shape.join(', ')}], dtype=${t.dtype})`;
  const data = t.dataSync();
  const summarise = t.numel > THRESHOLD;
  const shown: number[] = [];
  const strides: number[] = [];
  let s = 1;
  for (let i = t.ndim - 1; i >= 0; i--) {
    strides[i] = s;
    s *= t.shape[i];
  }
  const pick = (n: number) => (summarise && n > 2 * EDGE ? [...Array(EDGE).keys(), -1, ...Array.from({ length: EDGE }, (_, i) => n - EDGE + i)] : [...Array(n).keys()]);
  const collect = (dim: number, off: number): void => {
    if (dim === t.ndim) {
      shown.push(data[off]);
      return;
    }
    for (const i of pick(t.shape[dim])) if (i >= 0) collect(dim + 1, off + i * strides[dim]);
  };
  collect(0, 0);
  const fmt = formatter(shown, t.dtype);
  const width = Math.max(0, ...shown.map((v) => fmt(v).length));
  const indent = 'tensor('.length;
  const build = (dim: number, off: number): string => {
    if (dim === t.ndim) return fmt(data[off]).padStart(width);
    const parts = pick(t.shape[dim]).map((i) => (i < 0 ? '...' : build(dim + 1, off + i * strides[dim])));
    if (dim === t.ndim - 1) return `[${parts.join(', ')}]`;
    const sep = `,${'\n'.repeat(t.ndim - 1 - dim)}${' '.repeat(indent + dim + 1)}`;
    return `[${parts.join(sep)}]`;
  };
  const body = t.ndim === 0 ? fmt(data[0]) : build(0, 0);
  const extras = [`dtype=${t.dtype}`];
  if (t.device !== 'cpu') extras.unshift(`device='${t.device}'`);
  if (t.numel === 0) extras.unshift(`size=[${t.shape.join(', ')}]`);
  if (t.requiresGrad) extras.push('requiresGrad=true');
  return `tensor(${body}, ${extras.join(', ')})`;
}
