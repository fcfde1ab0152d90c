/**
 * The end-of-run report: one self-contained HTML file (no scripts, no external files) with
 * loss and accuracy curves, per-class accuracy, the confusion matrix and test images with
 * their predictions.
 */
import type { Tensor } from '@dl/tensor';
import { io } from '@dl/vision';
import { writeTextAtomic } from './artifacts.js';
import type { TrainConfig } from './config.js';
import type { EvalResult } from './evaluate.js';
import type { EpochMetrics } from './train.js';

export interface ReportData {
  config: TrainConfig;
  history: EpochMetrics[];
  final: EvalResult;
  classes: string[];
  /** uint8 [K, 3, 32, 32] test images, with their labels and predictions (first K). */
  images: Tensor;
  labels: Tensor;
  predictions: Int32Array;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/** A line chart as inline SVG: one polyline per series over epochs. */
function chart(title: string, series: { name: string; color: string; values: number[] }[], format: (v: number) => string): string {
  const w = 420;
  const h = 240;
  const pad = { l: 56, r: 12, t: 28, b: 36 };
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  const n = Math.max(...series.map((s) => s.values.length), 1);
  const lo = Math.min(...all, 0);
  const hi = Math.max(...all, 1e-9);
  const x = (i: number) => pad.l + (n === 1 ? (w - pad.l - pad.r) / 2 : (i * (w - pad.l - pad.r)) / (n - 1));
  const y = (v: number) => pad.t + (1 - (v - lo) / (hi - lo || 1)) * (h - pad.t - pad.b);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => lo + f * (hi - lo));
  const lines = series
    .map((s) => {
      const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      const dots = s.values.map((v, i) => `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${s.color}"/>`).join('');
      return `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts}"/>${dots}`;
    })
    .join('');
  const legend = series.map((s, i) => `<text x="${pad.l + 8 + i * 110}" y="18" fill="${s.color}" font-size="12">${esc(s.name)}</text>`).join('');
  const yAxis = ticks.map((t) => `<text x="${pad.l - 6}" y="${y(t) + 4}" text-anchor="end" font-size="10">${format(t)}</text><line x1="${pad.l}" x2="${w - pad.r}" y1="${y(t)}" y2="${y(t)}" stroke="#e5e5e5"/>`).join('');
  const xAxis = Array.from({ length: n }, (_, i) => `<text x="${x(i)}" y="${h - pad.b + 16}" text-anchor="middle" font-size="10">${i + 1}</text>`).join('');
  return `<figure><figcaption>${esc(title)}</figcaption><svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(title)}">${yAxis}${xAxis}<text x="${(w + pad.l) / 2}" y="${h - 6}" text-anchor="middle" font-size="11">epoch</text>${lines}${legend}</svg></figure>`;
}

function confusionTable(classes: string[], confusion: number[][]): string {
  const max = Math.max(...confusion.flat(), 1);
  const head = `<tr><th>true \\ predicted</th>${classes.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  const rows = confusion
    .map((row, i) => `<tr><th>${esc(classes[i])}</th>${row.map((v, j) => `<td style="background:rgba(${i === j ? '46,125,50' : '198,40,40'},${(v / max).toFixed(3)})">${v}</td>`).join('')}</tr>`)
    .join('');
  return `<table class="confusion">${head}${rows}</table>`;
}

function imageGrid(data: ReportData): string {
  const k = data.predictions.length;
  const labels = data.labels.narrow(0, 0, k).dataSync();
  const cells: string[] = [];
  for (let i = 0; i < k; i++) {
    const hwc = data.images.select(0, i).permute(1, 2, 0).contiguous();
    const png = io.encodePng({ data: hwc.dataSync() as Uint8Array, height: 32, width: 32, channels: 3 });
    hwc.dispose();
    const ok = data.predictions[i] === labels[i];
    cells.push(
      `<figure class="${ok ? 'ok' : 'wrong'}"><img alt="test image ${i}" src="data:image/png;base64,${png.toString('base64')}"><figcaption>${esc(data.classes[data.predictions[i]])}${ok ? '' : `<br><s>${esc(data.classes[labels[i]])}</s>`}</figcaption></figure>`,
    );
  }
  return `<div class="grid">${cells.join('')}</div>`;
}

export function renderReport(data: ReportData): string {
  const h = data.history;
  const perClass = data.classes.map((c, i) => `<tr><td>${esc(c)}</td><td>${pct(data.final.perClass[i])}</td><td><div class="bar" style="width:${(200 * data.final.perClass[i]).toFixed(0)}px"></div></td></tr>`).join('');
  const cfg = Object.entries(data.config).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(JSON.stringify(v))}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CIFAR-10 training report</title>
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-size:13px;font-weight:600}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 6px;text-align:right}
.confusion td{min-width:34px}.bar{height:10px;background:#1565c0}
.grid{display:grid;grid-template-columns:repeat(8,80px);gap:8px}
.grid img{width:64px;height:64px;image-rendering:pixelated;display:block;margin:auto}
.grid figcaption{font-size:11px;font-weight:400;text-align:center}.grid .ok figcaption{color:#2e7d32}.grid .wrong figcaption{color:#c62828}
.summary{font-size:15px}
</style></head><body>
<h1>CIFAR-10 training report</h1>
<p class="summary">Model <b>${esc(data.config.model)}</b>, recipe <b>${esc(data.config.recipe)}</b>, ${h.length} epochs: test accuracy <b>${pct(data.final.accuracy)}</b> on ${data.final.count} images (loss ${data.final.loss.toFixed(4)}).</p>
<div class="charts">
${chart('Loss', [{ name: 'train', color: '#1565c0', values: h.map((m) => m.trainLoss) }, { name: 'test', color: '#ef6c00', values: h.map((m) => m.testLoss) }], (v) => v.toFixed(2))}
${chart('Accuracy', [{ name: 'train', color: '#1565c0', values: h.map((m) => m.trainAccuracy) }, { name: 'test', color: '#ef6c00', values: h.map((m) => m.testAccuracy) }], pct)}
</div>
<h2>Per-class test accuracy</h2>
<table><tr><th>class</th><th>accuracy</th><th></th></tr>${perClass}</table>
<h2>Confusion matrix (rows: true class)</h2>
${confusionTable(data.classes, data.final.confusion)}
<h2>Test images and predictions</h2>
<p>Green: correct; red: wrong, with the true class struck through.</p>
${imageGrid(data)}
<h2>Configuration</h2>
<table>${cfg}</table>
</body></html>
`;
}

export function writeReport(path: string, data: ReportData): void {
  writeTextAtomic(path, renderReport(data));
}
