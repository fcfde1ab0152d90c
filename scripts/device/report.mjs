#!/usr/bin/env node
// The final table of a device run: reads the raw outputs run.sh left in a folder and prints one
// markdown section on stdout (run.sh saves it as <dir>/report.md):
//
//   node scripts/device/report.mjs DIR [--write-results]
//
// DIR holds steps.jsonl (run.sh: the machine and each step's status), ours.jsonl (cifar-cache and
// bench-cuda lines), torch.jsonl (torch_cuda_bench.py lines), tests.log and own-conv.log (the test
// runner's output, the second with DL_CUDNN=0). Any of them may be missing or cut short: what is there is reported. The ratio column
// is ours against PyTorch eager, oriented so that above 1x means ours is better (throughput:
// ours / PyTorch; seconds and bytes: PyTorch / ours).
//
// --write-results puts the section into bench/RESULTS.md between <!-- cuda --> and <!-- /cuda -->
// (appended the first time); bench/run.mjs keeps that block when it rewrites the file.
// Node built-ins only: it runs on the device machine straight from the working tree.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'RESULTS.md');

/** Table rows: metric, unit, what it is (from a line of it, when one has the details), whether more is better; `peak` rows read peak_bytes of that metric's line, `field` rows that field. */
const ROWS = [
  { metric: 'convnet-train', unit: 'images/s', label: (l) => `tutorial ConvNet train step${l.batch ? `, batch ${l.batch}` : ''}`, better: 'higher' },
  { metric: 'convnet-eval', unit: 'images/s', label: (l) => `tutorial ConvNet eval${l.batch ? `, batch ${l.batch}` : ''}`, better: 'higher' },
  { metric: 'resnet9-train', unit: 'images/s', label: (l) => `ResNet-9 train step${l.batch ? `, batch ${l.batch}` : ''}, fp32`, better: 'higher' },
  { metric: 'recipe-upload', unit: 's', label: () => 'recipe: upload and normalise the data', better: 'lower' },
  { metric: 'recipe-wall', unit: 's', label: (l) => `recipe: ${l.epochs ?? '?'} epochs + test, wall`, better: 'lower' },
  { metric: 'recipe-epoch', unit: 's', label: () => 'recipe: median epoch', better: 'lower' },
  { metric: 'recipe-test-acc', unit: '%', label: (l) => `recipe: test accuracy after ${l.epochs ?? '?'} epochs`, better: null },
  { metric: 'convnet-train', field: 'issue_ms', unit: 'ms', label: () => 'host time to issue a ConvNet train step (no wait)', better: 'lower' },
  { metric: 'resnet9-train', field: 'issue_ms', unit: 'ms', label: () => 'host time to issue a ResNet-9 train step (no wait)', better: 'lower' },
  { metric: 'convnet-train', peak: true, unit: 'MiB', label: () => 'peak memory: ConvNet train step', better: 'lower' },
  { metric: 'convnet-eval', peak: true, unit: 'MiB', label: () => 'peak memory: ConvNet eval', better: 'lower' },
  { metric: 'resnet9-train', peak: true, unit: 'MiB', label: () => 'peak memory: ResNet-9 train step', better: 'lower' },
  { metric: 'recipe-wall', peak: true, unit: 'MiB', label: () => 'peak memory: recipe', better: 'lower' },
  { metric: 'data-extract', unit: 's', label: () => 'CIFAR-10 JPEG archive: extract', better: 'lower' },
  { metric: 'data-decode', unit: 's', label: (l) => `CIFAR-10 JPEG: decode${l.images ? ` ${l.images} images (${l.workers} threads)` : ''} to the cache`, better: 'lower' },
];
const SUITES = ['ours', 'torch-eager', 'torch-compiled'];

function readLines(path) {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return []; // a line cut off by a timeout
      }
    });
}

const fmt = (x) => (x >= 1000 ? x.toFixed(0) : x >= 100 ? x.toFixed(1) : x >= 10 ? x.toFixed(2) : x.toPrecision(3));

/** The value of a row in a line: the metric's value, or its peak memory in MiB. */
function rowValue(row, line) {
  if (!line || line.error !== undefined || line.skipped !== undefined) return null;
  if (row.peak) return typeof line.peak_bytes === 'number' ? line.peak_bytes / 2 ** 20 : null;
  if (row.field) return typeof line[row.field] === 'number' ? line[row.field] : null;
  return line.value;
}

function cell(row, line) {
  if (!line) return '—';
  if (line.error !== undefined) return 'error';
  if (line.skipped !== undefined) return 'skipped';
  const v = rowValue(row, line);
  return v === null ? '—' : fmt(v);
}

/** Pass/fail counts from the test runner's spec output (ℹ lines) or TAP output (# lines). */
function testSummary(dir, file) {
  const path = join(dir, file);
  if (!existsSync(path)) return 'not run';
  const text = readFileSync(path, 'utf8');
  const count = (k) => text.match(new RegExp(`^[ℹ#] ${k} (\\d+)$`, 'm'))?.[1];
  if (count('tests') === undefined) return `no summary (cut short: see ${file})`;
  // The spec reporter lists the failed tests again at the end, after '✖ failing tests:'.
  const tail = text.split('✖ failing tests:')[1] ?? '';
  const failed = [...tail.matchAll(/^✖ (.+?)(?: \([\d.]+ms\))?$/gm)].map((m) => m[1]);
  return `${count('pass')} passed, ${count('fail')} failed, ${count('skipped')} skipped of ${count('tests')}${failed.length ? `; failed: ${[...new Set(failed)].join('; ')}` : ''}`;
}

function buildReport(dir) {
  const steps = readLines(join(dir, 'steps.jsonl'));
  const lines = [...readLines(join(dir, 'ours.jsonl')), ...readLines(join(dir, 'torch.jsonl'))];
  const env = steps.find((s) => s.kind === 'env') ?? {};
  const oursEnv = lines.find((l) => l.suite === 'ours' && l.kind === 'env') ?? {};
  const torchEnv = lines.find((l) => l.suite === 'torch' && l.kind === 'env') ?? {};
  const pick = (suite, metric) => lines.find((l) => l.metric === metric && (l.suite === suite || (suite === 'ours' && l.suite === 'data')));

  const table = [
    '| metric | unit | ours | PyTorch eager | PyTorch compiled | ours vs eager |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const row of ROWS) {
    const [ours, eager, compiled] = SUITES.map((s) => pick(s, row.metric));
    if (!ours && !eager && !compiled) continue;
    const [a, b] = [rowValue(row, ours), rowValue(row, eager)];
    const ratio = row.better && a && b ? `${fmt(row.better === 'higher' ? a / b : b / a)}x` : '';
    const sample = [ours, eager, compiled].find((l) => l && l.error === undefined && l.skipped === undefined) ?? {};
    table.push(`| ${row.label(sample)} | ${row.unit} | ${cell(row, ours)} | ${cell(row, eager)} | ${cell(row, compiled)} | ${ratio} |`);
  }

  const notes = [];
  const errors = new Map(); // one note per suite and message, naming its metrics
  for (const l of lines.filter((x) => x.error !== undefined)) {
    const key = `${l.suite}: ${l.error}`;
    errors.set(key, [...(errors.get(key) ?? []), l.metric ?? l.kind]);
  }
  for (const [key, metrics] of errors) notes.push(`error in ${metrics.join(', ')}, ${key}`);
  for (const metric of ['convnet-train', 'resnet9-train']) {
    const [o, e] = [pick('ours', metric), pick('torch-eager', metric)];
    if (o?.params && e?.params && o.params !== e.params) notes.push(`${metric}: ours has ${o.params} parameters, PyTorch's model ${e.params}: not the same architecture`);
  }
  const compiled = pick('torch-compiled', 'convnet-train');
  if (compiled?.compile_s !== undefined) notes.push(`torch.compile (mode ${compiled.compile_mode}): first two steps took ${fmt(compiled.compile_s)} s${compiled.failed_modes?.length ? `; failed first: ${compiled.failed_modes.join('; ')}` : ''}`);
  for (const s of steps) if (s.kind === 'step' && s.status !== 'ok') notes.push(`step ${s.step}: ${s.status} after ${s.seconds} s`);

  const card = env.gpu ?? torchEnv.gpu ?? 'unknown card';
  const stepList = steps.filter((s) => s.kind === 'step').map((s) => `${s.step} ${s.status} (${s.seconds} s)`).join(', ');
  const section = [
    `## CUDA: ${card}, ${env.date ?? new Date().toISOString().slice(0, 10)}`,
    '',
    `Written by \`scripts/device/report.mjs\` from a device run (\`bash scripts/device/run.sh${env.mode && env.mode !== 'full' ? ` --${env.mode}` : ''}\`, see scripts/device/README.md).`,
    `Throughputs are medians of timed runs between synchronisations after warm-up; "ours vs eager" above 1x means ours is better. ${torchEnv.torch ? `PyTorch ${torchEnv.torch}${torchEnv.cuda ? ` (CUDA ${torchEnv.cuda}, cuDNN ${torchEnv.cudnn})` : ''}, TF32 ${torchEnv.tf32 ? 'on' : 'off'}` : 'PyTorch did not run'}; compiled = torch.compile of the ConvNet step only.`,
    '',
    `- Machine: ${card}${env.driver ? `, driver ${env.driver}` : ''}${env.memory ? `, ${env.memory}` : ''}; ours: Node ${oursEnv.node ?? '?'}, backends ${oursEnv.backends ?? '?'}`,
    `- Device tests (${env.device ?? 'cuda'}): ${testSummary(dir, 'tests.log')}`,
    `- Convolution tests again with DL_CUDNN=0 (own kernels): ${testSummary(dir, 'own-conv.log')}`,
    ...(stepList ? [`- Steps: ${stepList}`] : []),
    ...notes.map((n) => `- Note: ${n}`),
    '',
    ...table,
  ].join('\n');
  return `<!-- cuda -->\n${section}\n<!-- /cuda -->\n`;
}

function writeResults(section) {
  const text = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '# Benchmarks\n';
  const block = /<!-- cuda -->[\s\S]*<!-- \/cuda -->\n?/;
  writeFileSync(RESULTS, block.test(text) ? text.replace(block, section) : `${text.trimEnd()}\n\n${section}`);
}

const [dir, flag] = process.argv.slice(2);
if (!dir || (flag && flag !== '--write-results')) {
  console.error('usage: node scripts/device/report.mjs DIR [--write-results]');
  process.exit(2);
}
const report = buildReport(dir);
console.log(report);
if (flag) {
  writeResults(report);
  console.log(`wrote the CUDA section of ${RESULTS}`);
}
