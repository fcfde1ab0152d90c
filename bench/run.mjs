#!/usr/bin/env node
// `pnpm bench` (= `turbo run build && node bench/run.mjs`): times our kernels (the BUILT
// @dl/tensor, through the workspace package) and the same cases in PyTorch (bench/torch_bench.py,
// 2 threads) in one run, prints a table of medians and writes bench/RESULTS.md.
//
// Protocol, identical on both sides: one untimed call, warm-up for WARMUP_S, then REPEATS timed
// repeats of `iters` back-to-back iterations (iters sized so one repeat takes >= MIN_REPEAT_S);
// the reported time is the median over repeats of (repeat time / iters).
//
// Options: --filter SUBSTR (only matching case ids; RESULTS.md is then left alone),
//          --repeats N, --no-torch, --no-write, --recipe (the tutorial recipe end to end).
// Without --filter it also runs bench/cuda_host.mjs on the emulated CUDA device (the host's cost
// of a CUDA training step) when the build made the emulated addon.
// The cases and our kernels live in bench/cases.mjs.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tensorLib from '@dl/tensor';
import { grad, noGrad } from '@dl/autograd';
import * as nn from '@dl/nn';
import * as optim from '@dl/optim';
import * as data from '@dl/data';
import * as vision from '@dl/vision';
import { CASES, KERNELS, UNITS } from './cases.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
/** What a benchmark kernel sees: @dl/tensor's exports plus nn, optim, data, vision, grad and noGrad. */
const dl = { ...tensorLib, nn, optim, grad, noGrad, data, vision };
const { values: opt } = parseArgs({
  options: {
    filter: { type: 'string' },
    repeats: { type: 'string', default: '7' },
    'no-torch': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    recipe: { type: 'boolean', default: false },
    'recipe-epochs': { type: 'string', default: '10' },
  },
});
const REPEATS = Number(opt.repeats);
const WARMUP_S = 0.3;
const MIN_REPEAT_S = 0.1;

const cases = CASES.filter((c) => !opt.filter || c.id.includes(opt.filter));

/**
 * The extracted CIFAR-10 for the input-pipeline cases (both sides read the same files):
 * $DL_CIFAR10_DIR, else the shared archive extracted once into $DL_CACHE_DIR or ~/.cache/dl.
 */
async function cifarDir() {
  if (process.env.DL_CIFAR10_DIR) return process.env.DL_CIFAR10_DIR;
  const archive = join(HERE, '..', '..', 'shared', 'datasets', 'cifar10', 'cifar-10-binary.tar.gz');
  const cache = join(process.env.DL_CACHE_DIR ?? join(os.homedir(), '.cache', 'dl'), 'cifar10');
  await vision.datasets.CIFAR10.download(cache, { download: true, mirrors: [archive] });
  return cache;
}
if (cases.some((c) => c.kind === 'pipeline')) {
  const dir = await cifarDir();
  for (const c of cases) if (c.kind === 'pipeline') c.params.dataDir = dir;
}
if (cases.length === 0) {
  console.error(`bench: no case id contains "${opt.filter}"; ids: ${CASES.map((c) => c.id).join(', ')}`);
  process.exit(2);
}

/** Warm up, size a repeat to >= MIN_REPEAT_S, take the median of REPEATS. Async steps (the input pipeline) are awaited. */
async function measure(step) {
  const now = () => performance.now() / 1e3;
  let t0 = now();
  const first = step();
  const isAsync = first instanceof Promise;
  await first;
  const run = isAsync ? step : () => step();
  let once = now() - t0;
  const warmEnd = now() + WARMUP_S;
  while (now() < warmEnd) {
    t0 = now();
    if (isAsync) await run();
    else run();
    once = Math.min(once, now() - t0);
  }
  const iters = Math.max(1, Math.ceil(MIN_REPEAT_S / Math.max(once, 1e-9)));
  const samples = [];
  for (let r = 0; r < REPEATS; r++) {
    t0 = now();
    if (isAsync) for (let i = 0; i < iters; i++) await run();
    else for (let i = 0; i < iters; i++) run();
    samples.push((now() - t0) / iters);
  }
  return { median_s: median(samples), iters, samples_s: samples };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function runOurs() {
  dl.manualSeed(0);
  const results = {};
  const leaks = [];
  for (const c of cases) {
    process.stderr.write(`ours: ${c.id}\n`);
    const before = dl.memoryStats().liveBytes;
    let kernel;
    try {
      // inside a scope: the returned inputs stay alive, anything else (or all, on a throw) is freed
      kernel = await dl.scope(() => KERNELS[c.kind](dl, c.params));
      results[c.id] = await measure(kernel.step);
    } catch (e) {
      results[c.id] = { error: `${e?.name ?? 'Error'}: ${String(e?.message ?? e).split('\n')[0]}` };
    } finally {
      for (const t of kernel?.inputs ?? []) t.dispose();
      await kernel?.close?.();
    }
    // every iteration runs in a scope and the inputs are disposed: memory must be back where it was
    const grown = dl.memoryStats().liveBytes - before;
    if (grown > 0) leaks.push(`${c.id} left ${grown} bytes of tensors alive`);
  }
  return { results, leaks };
}

// ---- PyTorch -------------------------------------------------------------------------------

const PY_CANDIDATES = [...new Set([process.env.DL_BENCH_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean))];

/** The first python that can import torch, or null. (pyenv's python3 may lack Debian's torch.) */
function findTorchPython() {
  for (const py of PY_CANDIDATES) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return null;
}

function aptInstallTorch(notes) {
  const isRoot = process.getuid?.() === 0;
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) {
    notes.push(`not installing python3-torch: ${!hasApt ? 'no apt-get' : 'not root'}`);
    return;
  }
  const pkgs = ['python3-torch', 'libopenblas0-pthread'];
  console.log(`bench: PyTorch not importable; installing ${pkgs.join(' ')} with apt-get (this can take minutes)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env }).status === 0;
  if (install()) return notes.push(`installed ${pkgs.join(' ')} with apt-get`);
  // a fresh machine may have empty package lists
  if (spawnSync('apt-get', ['update'], { stdio: 'inherit', env }).status === 0 && install()) {
    return notes.push(`installed ${pkgs.join(' ')} with apt-get (after apt-get update)`);
  }
  notes.push(`apt-get install ${pkgs.join(' ')} failed`);
}

function runTorch(notes) {
  if (opt['no-torch']) return { missing: 'skipped (--no-torch)' };
  let py = findTorchPython();
  if (!py) {
    aptInstallTorch(notes);
    py = findTorchPython();
  }
  if (!py) return { missing: `no python with torch among ${PY_CANDIDATES.join(', ')} (${notes.join('; ') || 'not installed'})` };
  const input = JSON.stringify({
    cases: cases.map(({ id, kind, params }) => ({ id, kind, params })),
    warmup_s: WARMUP_S,
    min_repeat_s: MIN_REPEAT_S,
    repeats: REPEATS,
  });
  const r = spawnSync(py, [join(HERE, 'torch_bench.py')], {
    input,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) return { missing: `${py} bench/torch_bench.py exited ${r.status ?? r.signal}` };
  return { python_path: py, ...JSON.parse(r.stdout) };
}

// ---- the tutorial recipe end to end (--recipe: minutes) ----------------------------------------

/** Our trainer and PyTorch's script on the tutorial recipe, same data, same run. */
async function runRecipe(notes) {
  const dir = await cifarDir();
  const epochs = Number(opt['recipe-epochs']);
  const out = join(os.tmpdir(), `dl-bench-recipe-${process.pid}`);
  process.stderr.write(`ours: tutorial recipe, ${epochs} epochs\n`);
  const cli = join(HERE, '..', 'apps', 'cifar-trainer', 'dist', 'cli.js');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, 'train', '--recipe', 'tutorial', '--epochs', String(epochs), '--data-dir', dir, '--out-dir', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const wall = (performance.now() - t0) / 1e3;
  let ours = null;
  if (r.status === 0) {
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    ours = { epoch_s: lines.map((m) => m.seconds), accuracy: lines.at(-1).testAccuracy, wall };
  } else notes.push(`our trainer exited ${r.status}`);
  const py = findTorchPython();
  let torch = null;
  if (py) {
    process.stderr.write(`torch: tutorial recipe, ${epochs} epochs\n`);
    const t = spawnSync(py, [join(HERE, 'torch_tutorial.py'), dir, String(epochs), '0'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (t.status === 0) torch = JSON.parse(t.stdout.trim().split('\n').pop());
    else notes.push(`bench/torch_tutorial.py exited ${t.status}`);
  }
  return { epochs, ours, torch };
}

function recipeSection(r) {
  const med = (xs) => (xs ? median(xs) : null);
  const o = med(r.ours?.epoch_s);
  const t = med(r.torch?.epoch_s);
  const acc = (x) => (x === undefined || x === null ? '—' : `${(100 * x).toFixed(2)}%`);
  return `<!-- recipe -->
## The tutorial recipe end to end (\`pnpm bench --recipe\`)

PyTorch's CIFAR-10 tutorial recipe (its ConvNet, SGD lr 0.001 momentum 0.9, batch 128, ${r.epochs} epochs, no
augmentation) on the same data: our trainer (\`cifar-trainer train --recipe tutorial\`, whose epoch time
includes the input pipeline) beside \`bench/torch_tutorial.py\` (tensors preloaded). Epoch time is the
median over epochs; the ratio is PyTorch's time / ours (higher is better).

| | ours | PyTorch | ratio |
| --- | ---: | ---: | ---: |
| epoch wall time (s) | ${o ? o.toFixed(1) : '—'} | ${t ? t.toFixed(1) : '—'} | ${o && t ? `${(t / o).toFixed(2)}x` : '—'} |
| final test accuracy | ${acc(r.ours?.accuracy)} | ${acc(r.torch?.accuracy)} | |
<!-- /recipe -->`;
}

// ---- the host side of a CUDA step (bench/cuda_host.mjs on the emulated device) ---------------

const EMULATED = join(HERE, '..', 'packages', 'tensor', 'native', 'build', 'Emulated');

/** The host's time per CUDA training step, or why it was not measured. */
function runCudaHost() {
  const addon = join(EMULATED, 'dl_native.node');
  if (!existsSync(addon)) return { missing: `no emulated addon at ${addon} (the build makes it where a C++ compiler is)` };
  process.stderr.write('ours: the host side of a CUDA training step (emulated device)\n');
  const env = { ...process.env, DL_NATIVE_PATH: addon, DL_CUDA_EMU_LIBS: EMULATED, DL_CUDA_EMU_DISCARD: '1' };
  const r = spawnSync(process.execPath, [join(HERE, 'cuda_host.mjs'), '--repeats', String(REPEATS)], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) return { missing: `bench/cuda_host.mjs exited ${r.status ?? r.signal}` };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function cudaHostSection(host, ours, torch) {
  const ms = (r) => (r && !r.error ? r.median_s * 1e3 : null);
  const [cpuOurs, cpuTorch] = [ms(ours), ms(torch)];
  const cell = (x) => (x === null ? '—' : x.toFixed(2));
  const ratio = (x) => (x !== null && host.median_ms ? `${(x / host.median_ms).toFixed(2)}x` : '—');
  return `<!-- cuda-host -->
## The host's cost of a CUDA training step (no GPU: \`bench/cuda_host.mjs\`)

The tutorial ConvNet's SGD step at batch ${host.batch ?? 128} issued to the emulated CUDA device
(\`DL_CUDA=emulate\`, with the cuBLAS and cuDNN stand-ins) told to drop its work: the
time per step is what the host spends to issue it (modules, autograd, dispatch, launch encoding,
the addon's launch calls), the floor of a GPU step that the GPU's own time cannot lower. Median
of ${host.samples_ms?.length ?? '—'} repeats of ${host.steps ?? '—'} steps after ${host.warmup_steps ?? '—'} warm-up steps, same machine and run
as the table above. For scale, beside it: the CPU training step at batch 1 (\`convnet-train-1\`),
almost all framework cost, ours and PyTorch's. The ratio is that time / the CUDA host time.
${host.missing ? `\nNot measured: ${host.missing}.\n` : ''}
| | ms per step | ratio |
| --- | ---: | ---: |
| ours, CUDA step issued (host only) | ${cell(host.median_ms ?? null)} | 1x |
| ours, CPU step at batch 1 | ${cell(cpuOurs)} | ${ratio(cpuOurs)} |
| PyTorch, CPU step at batch 1 | ${cell(cpuTorch)} | ${ratio(cpuTorch)} |
<!-- /cuda-host -->`;
}

// ---- report --------------------------------------------------------------------------------

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(2));

function row(c, ours, torch, torchMissing) {
  const tp = (r) => (r && !r.error ? c.work / r.median_s / UNITS[c.unit] : null);
  const cell = (r, missing) => (missing ? '—' : !r ? 'n/a' : r.error ? 'error' : fmt(tp(r)));
  const ms = (r, missing) => (missing ? '—' : !r ? 'n/a' : r.error ? 'error' : fmt(r.median_s * 1e3));
  const a = tp(ours);
  const b = tp(torch);
  return [c.id, c.shape, ms(ours), ms(torch, torchMissing), cell(ours), cell(torch, torchMissing), c.unit, a && b ? `${fmt(a / b)}x` : '—'];
}

const HEAD = ['case', 'shape', 'ours ms', 'PyTorch ms', 'ours', 'PyTorch', 'unit', 'ours/PyTorch'];

function textTable(rows) {
  const all = [HEAD, ...rows];
  const widths = HEAD.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r) => r.map((v, i) => (i < 2 || i === 6 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(HEAD), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function mdTable(rows) {
  const esc = (v) => v.replace(/\|/g, '\\|');
  return [
    `| ${HEAD.join(' | ')} |`,
    `| ${HEAD.map((_, i) => (i < 2 || i === 6 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

function cpuModel() {
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m);
    if (m) return m[1].trim();
  } catch {}
  return os.cpus()[0]?.model ?? 'unknown';
}

function ourVersion() {
  const require = createRequire(import.meta.url);
  return JSON.parse(readFileSync(require.resolve('@dl/tensor/package.json'), 'utf8')).version;
}

function cpuBackend() {
  const b = dl.listBackends?.().find((x) => x.deviceType === 'cpu');
  return b ? ` (backend: ${b.name})` : '';
}

async function main() {
  const notes = [];
  const load = os.loadavg()[0].toFixed(2); // other work on the machine skews both columns
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  if (Number(load) >= cores / 2) notes.push(`the machine was busy (load ${load} on ${cores} cores): timings, PyTorch's 2-thread ones most, are unreliable; rerun on a quiet machine`);
  const ours = await runOurs();
  const torch = runTorch(notes);
  // Sections kept from the previous RESULTS.md: the recipe (unless --recipe reruns it), the seed
  // study (bench/tutorial_seeds.mjs --write) and the CUDA results (written by
  // scripts/device/report.mjs --write-results from a GPU device run).
  const previous = (name) => {
    try {
      return readFileSync(join(HERE, 'RESULTS.md'), 'utf8').match(new RegExp(`<!-- ${name} -->[\\s\\S]*<!-- /${name} -->`))?.[0] ?? '';
    } catch {
      return '';
    }
  };
  const recipe = opt.recipe ? recipeSection(await runRecipe(notes)) : previous('recipe');
  const cudaHost = opt.filter ? '' : cudaHostSection(runCudaHost(), ours.results['convnet-train-1'], torch.results?.['convnet-train-1']);
  if (cudaHost) console.log(`\n${cudaHost}\n`);
  const cudaSection = previous('cuda');
  const seedsSection = previous('seeds');
  if (opt.recipe) console.log(`\n${recipe}\n`);
  const rows = cases.map((c) => row(c, ours.results[c.id], torch.results?.[c.id], Boolean(torch.missing)));
  const errors = cases
    .flatMap((c) => [
      ours.results[c.id]?.error && `ours ${c.id}: ${ours.results[c.id].error}`,
      torch.results?.[c.id]?.error && `PyTorch ${c.id}: ${torch.results[c.id].error}`,
    ])
    .filter(Boolean)
    .concat(ours.leaks.map((l) => `memory: ${l}`));

  const machine = [
    `CPU: ${cpuModel()}, ${cores} cores available to Node; 1-minute load average at start: ${load}`,
    `Node ${process.version}; ours: @dl/tensor ${ourVersion()} on 'cpu'${cpuBackend()}`,
    torch.missing
      ? `PyTorch: missing — ${torch.missing}`
      : `PyTorch ${torch.torch} (Python ${torch.python} at ${torch.python_path}, ${torch.threads} threads), BLAS: ${torch.blas?.join(', ') || 'unknown'}`,
  ];
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');

  console.log(`\n${textTable(rows)}\n`);
  for (const m of machine) console.log(m);
  for (const n of notes) console.log(`note: ${n}`);
  for (const e of errors) console.log(`error: ${e}`);
  if (torch.missing) console.log('The PyTorch column is missing: see the PyTorch line above.');

  if (opt.filter || opt['no-write']) {
    console.log(`\n(bench/RESULTS.md not written: ${opt.filter ? '--filter' : '--no-write'})`);
    return;
  }
  const md = `# Benchmarks

Written by \`pnpm bench\` (bench/run.mjs); do not edit by hand. Median of ${REPEATS} repeats after
warm-up; each repeat runs enough back-to-back iterations to take at least ${MIN_REPEAT_S * 1e3} ms. "ours" is
the built \`@dl/tensor\` (CPU), "PyTorch" the same case in PyTorch on the same machine in the same
run (\`torch.set_num_threads(2)\`; conv backward via \`aten::convolution_backward\`, as autograd).
Throughput: matmul and conv in GFLOP/s (2·MACs, bias excluded), add/sum in GB/s of float32 read +
written. The ratio is ours/PyTorch throughput: higher is better, 1x is parity.

- Date: ${date}
${machine.map((m) => `- ${m}`).join('\n')}
${[...notes.map((n) => `- Note: ${n}`), ...errors.map((e) => `- Error: ${e}`)].join('\n')}

${mdTable(rows)}

${[cudaHost, recipe, seedsSection, cudaSection].filter(Boolean).join('\n\n')}
`.replace(/\n{3,}/g, '\n\n');
  writeFileSync(join(HERE, 'RESULTS.md'), md);
  console.log('\nwrote bench/RESULTS.md');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
