#!/usr/bin/env node
// The tutorial recipe's final test accuracy over many seeds, ours beside PyTorch on this machine:
// how far apart the two distributions are, which one run per framework cannot tell.
//
//   node bench/tutorial_seeds.mjs [--seeds 0-11] [--cache DIR] [--write]
//
// Each seed runs `cifar-trainer train --recipe tutorial --seed S` and `bench/torch_tutorial.py
// DATA 10 S` (Debian's torch 1.13, as `pnpm bench`) one after the other, about 2.5 minutes a seed
// on 2 cores. A finished run's result is kept in DIR (default $TMPDIR/dl-tutorial-seeds-2) as
// ours-S.json / torch-S.json and not run again, so an interrupted study resumes. Prints a markdown
// section; --write also puts it in bench/RESULTS.md (between <!-- seeds --> markers, which
// `pnpm bench` keeps).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const HERE = import.meta.dirname;
const { values: opt } = parseArgs({
  options: {
    seeds: { type: 'string', default: '0-11' },
    cache: { type: 'string', default: join(os.tmpdir(), 'dl-tutorial-seeds-2') },
    write: { type: 'boolean', default: false },
  },
});

function parseSeeds(spec) {
  const out = [];
  for (const part of spec.split(',')) {
    const m = part.trim().match(/^(\d+)(?:-(\d+))?$/);
    if (!m) throw new Error(`--seeds: expected a list like 0-11 or 0,3,5; got '${spec}'`);
    for (let s = Number(m[1]); s <= Number(m[2] ?? m[1]); s++) out.push(s);
  }
  return out;
}

const dataDir = () => {
  const dir = process.env.DL_CIFAR10_DIR ?? join(HERE, '..', '..', 'shared', 'datasets', 'cifar10');
  if (!existsSync(join(dir, 'cifar-10-batches-bin'))) throw new Error(`no CIFAR-10 at ${dir} (set DL_CIFAR10_DIR to the folder holding cifar-10-batches-bin/)`);
  return dir;
};

function writeAtomic(file, text) {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

/** One framework's run of one seed, from the cache or run now: { accuracy } in [0, 1]. */
function result(kind, seed, data) {
  const file = join(opt.cache, `${kind}-${seed}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  process.stderr.write(`${kind}: tutorial recipe, seed ${seed}\n`);
  let r;
  if (kind === 'ours') {
    const out = join(opt.cache, `ours-${seed}-run`);
    const cli = join(HERE, '..', 'apps', 'cifar-trainer', 'dist', 'cli.js');
    const p = spawnSync(process.execPath, [cli, 'train', '--recipe', 'tutorial', '--seed', String(seed), '--data-dir', data, '--out-dir', out], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (p.status !== 0) throw new Error(`our trainer exited ${p.status} for seed ${seed}`);
    const last = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).at(-1);
    r = { accuracy: last.testAccuracy };
  } else {
    const py = process.env.DL_TORCH_PYTHON ?? '/usr/bin/python3';
    const p = spawnSync(py, [join(HERE, 'torch_tutorial.py'), data, '10', String(seed)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (p.status !== 0) throw new Error(`bench/torch_tutorial.py exited ${p.status} for seed ${seed}`);
    const j = JSON.parse(p.stdout.trim().split('\n').pop());
    r = { accuracy: j.accuracy, torch: j.torch };
  }
  writeAtomic(file, JSON.stringify(r));
  return r;
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs) => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));
const pct = (x) => (100 * x).toFixed(2);

function section(seeds, ours, torch) {
  const o = ours.map((r) => r.accuracy);
  const t = torch.map((r) => r.accuracy);
  const d = o.map((x, i) => x - t[i]);
  const rows = seeds.map((s, i) => `| ${s} | ${pct(o[i])} | ${pct(t[i])} | ${pct(d[i])} |`);
  const spread = (xs) => `${pct(Math.min(...xs))} to ${pct(Math.max(...xs))}`;
  return `<!-- seeds -->
## The tutorial recipe over seeds (\`node bench/tutorial_seeds.mjs --seeds ${seeds[0]}-${seeds.at(-1)}\`)

Final test accuracy (%) of the tutorial recipe (10 epochs, 391 batches each) per seed: our trainer
beside \`bench/torch_tutorial.py\` (PyTorch ${torch[0]?.torch ?? ''}, CPU), same data, ${os.cpus()[0]?.model ?? 'this machine'},
${new Date().toISOString().slice(0, 10)}. Our host generator is PyTorch's CPU generator, so a seed gives both
sides the same initial weights and the same batch order (test/torch-parity.test.ts); what still differs
is floating-point rounding (summation order in the kernels), which 3,910 SGD steps amplify.

| seed | ours | PyTorch | ours - PyTorch |
| ---: | ---: | ---: | ---: |
${rows.join('\n')}
| mean | ${pct(mean(o))} | ${pct(mean(t))} | ${pct(mean(d))} |
| SD | ${pct(sd(o))} | ${pct(sd(t))} | ${pct(sd(d))} |
| min to max | ${spread(o)} | ${spread(t)} | ${spread(d)} |

Paired difference of the means, ours - PyTorch: ${pct(mean(d))} points, standard error ${pct(sd(d) / Math.sqrt(d.length))}.
<!-- /seeds -->`;
}

function main() {
  const seeds = parseSeeds(opt.seeds);
  const data = dataDir();
  mkdirSync(opt.cache, { recursive: true });
  const ours = [];
  const torch = [];
  for (const s of seeds) {
    ours.push(result('ours', s, data));
    torch.push(result('torch', s, data));
  }
  const text = section(seeds, ours, torch);
  console.log(text);
  if (opt.write) {
    const file = join(HERE, 'RESULTS.md');
    const old = readFileSync(file, 'utf8');
    const re = /<!-- seeds -->[\s\S]*<!-- \/seeds -->/;
    writeAtomic(file, re.test(old) ? old.replace(re, text) : `${old.trimEnd()}\n\n${text}\n`);
  }
}

main();
