import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Generator, randint } from '@dl/tensor';
import { io } from '@dl/vision';
import { recipe } from '../src/config.js';
import { renderReport } from '../src/report.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
const tmp = process.env.DL_KEEP_REPORT ?? mkdtempSync(join(tmpdir(), 'dl-report-'));
afterAll(() => {
  if (!process.env.DL_KEEP_REPORT) rmSync(tmp, { recursive: true, force: true });
});

const classes = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

function report(): string {
  const g = new Generator(3);
  const images = randint(0, 256, [64, 3, 32, 32], { generator: g, dtype: 'uint8' });
  const labels = randint(0, 10, [64], { generator: g });
  const predictions = Int32Array.from(labels.dataSync(), (v, i) => (i % 3 === 0 ? (v + 1) % 10 : v));
  const confusion = classes.map((_, i) => classes.map((__, j) => (i === j ? 80 : 2)));
  return renderReport({
    config: recipe('default'),
    history: [1, 2, 3].map((e) => ({ epoch: e, trainLoss: 2 / e, trainAccuracy: 0.3 * e, testLoss: 2.1 / e, testAccuracy: 0.28 * e, lr: 0.05, seconds: 60, imagesPerSecond: 800 })),
    final: { loss: 0.7, accuracy: 0.8, perClass: classes.map((_, i) => 0.7 + i / 100), confusion, count: 1000 },
    classes,
    images,
    labels,
    predictions,
  });
}

describe('the HTML report', () => {
  it('is self-contained: no scripts, no external resources', () => {
    const html = report();
    expect(html).not.toMatch(/<script|<link|src="(?!data:)/);
  });

  it.skipIf(!CHROMIUM)('renders in headless Chromium: the screenshot has the page and its pictures (skipped only when Debian chromium is not installed)', () => {
    const page = join(tmp, 'report.html');
    writeFileSync(page, report());
    const shot = join(tmp, 'shot.png');
    const r = spawnSync(
      CHROMIUM!,
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${join(tmp, 'profile')}`, '--window-size=1100,1800', `--screenshot=${shot}`, `file://${page}`],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(existsSync(shot), r.stderr).toBe(true);
    const img = io.readImage(shot, { mode: 'rgb' });
    expect([img.width, img.height]).toEqual([1100, 1800]);
    // A rendered page is not blank: count distinct colours (text, chart lines, heat map, images).
    const colours = new Set<number>();
    for (let i = 0; i < img.data.length; i += 3) colours.add((img.data[i] << 16) | (img.data[i + 1] << 8) | img.data[i + 2]);
    expect(colours.size).toBeGreaterThan(500);
  }, 90_000);
});
