/**
 * Pack test: what users would get from the registry works.
 *
 * For every publishable package under packages/* (each package.json without "private": true):
 * build it (turbo; a cache hit when `pnpm test` just built), `pnpm pack` it, install ALL the
 * tarballs together into a fresh temp project with npm offline (workspace:* deps are rewritten
 * to versions by pnpm pack, and the sibling tarballs satisfy them), then import every export
 * path from ESM and CJS scripts and type-check a consumer against the shipped .d.ts/.d.cts.
 * Packages listed in SMOKE also run a tiny real computation through both module formats.
 *
 * Set DL_KEEP_PACK_TMP=1 to keep the temp directory for debugging.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SLOW = 120_000;

/**
 * Per-package smoke computations, run identically from ESM and CJS and type-checked against the
 * shipped declarations. In the expression, `m` is the package's main entry and `mods` maps every
 * package name to its main entry; its (awaited) value is JSON-serialized and compared with
 * `expected`. Add an entry when adding a package.
 */
const SMOKE: Record<string, { expr: string; expected: unknown }> = {
  '@dl/tensor': {
    expr: 'm.tensor([[1, 2], [3, 4]]).matmul(m.tensor([[1], [1]])).toArray()',
    expected: [[3], [7]],
  },
  '@dl/autograd': {
    expr: `(() => {
      const x = mods['@dl/tensor'].tensor([1, 2, 3], { requiresGrad: true });
      x.mul(x).sum().backward();
      return x.grad?.toArray();
    })()`,
    expected: [2, 4, 6],
  },
  '@dl/nn': {
    expr: `(() => {
      const T = mods['@dl/tensor'];
      const l = new m.Linear(2, 1);
      l.loadStateDict({ weight: T.tensor([[1, 2]]), bias: T.tensor([3]) });
      return l.forward(T.tensor([[1, 1]])).toArray();
    })()`,
    expected: [[6]],
  },
  '@dl/data': {
    expr: `(async () => {
      const T = mods['@dl/tensor'];
      const ds = new m.TensorDataset(T.arange(0, 6, 1, { dtype: 'int32' }));
      const loader = new m.DataLoader(ds, { batchSize: 4, numWorkers: 1 });
      const out = [];
      for await (const [batch] of loader) out.push(batch.toArray());
      return out;
    })()`,
    expected: [[0, 1, 2, 3], [4, 5]],
  },
  '@dl/optim': {
    expr: `(() => {
      const p = mods['@dl/tensor'].tensor([1, 2], { requiresGrad: true });
      const o = new m.SGD([p], { lr: 0.5 });
      p.mul(p).sum().backward();
      o.step();
      return p.toArray();
    })()`,
    expected: [0, 0],
  },
  '@dl/tensorboard': {
    // writes into the temp project (cwd); CRC32C from crc-32, protobuf from @bufbuild/protobuf, PNG from pngjs
    expr: `(() => {
      const w = new m.SummaryWriter('tb-smoke');
      w.addScalar('loss', 0.5, 3);
      w.addImage('img', mods['@dl/tensor'].zeros([3, 2, 2]));
      w.close();
      const ev = m.readEvents(w.eventFile);
      return [m.crc32c(new Uint8Array(32)), ev.length, ev[1].summary?.value[0].simpleValue, ev[2].summary?.value[0].image?.colorspace];
    })()`,
    expected: [0x8a9136aa, 3, 0.5, 3],
  },
};

interface Pkg {
  dir: string;
  name: string;
  version: string;
  /** import specifiers for every exported subpath, e.g. '@dl/tensor', '@dl/tensor/testing' */
  specifiers: string[];
  /** every file the exports map (and main/module/types) points at, relative to the package */
  targets: string[];
  tarball?: string;
}

function publishablePackages(): Pkg[] {
  const base = join(ROOT, 'packages');
  const pkgs: Pkg[] = [];
  for (const entry of readdirSync(base, { withFileTypes: true })) {
    const file = join(base, entry.name, 'package.json');
    if (!entry.isDirectory() || !existsSync(file)) continue;
    const json = JSON.parse(readFileSync(file, 'utf8'));
    if (json.private) continue;
    const specifiers: string[] = [];
    const targets = new Set<string>();
    const collect = (v: unknown): void => {
      if (typeof v === 'string') targets.add(v.replace(/^\.\//, ''));
      else if (v && typeof v === 'object') for (const x of Object.values(v)) collect(x);
    };
    const exportsMap = json.exports ?? { '.': json.main ?? 'index.js' };
    const keys = typeof exportsMap === 'string' || !Object.keys(exportsMap).every((k) => k.startsWith('.'))
      ? ['.']
      : Object.keys(exportsMap);
    for (const key of keys) {
      if (key === './package.json' || key.includes('*')) continue;
      specifiers.push(key === '.' ? json.name : `${json.name}/${key.slice(2)}`);
    }
    collect(exportsMap);
    for (const k of ['main', 'module', 'types']) if (json[k]) collect(json[k]);
    targets.delete('package.json');
    pkgs.push({ dir: join(base, entry.name), name: json.name, version: json.version, specifiers, targets: [...targets] });
  }
  return pkgs.sort((a, b) => a.name.localeCompare(b.name));
}

function run(cmd: string, args: string[], cwd: string, timeout = SLOW): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

const pkgs = publishablePackages();
let tmp = '';
let project = '';

beforeAll(() => {
  // `pnpm test` builds before vitest starts. Build here only when a dist/ is missing (running this
  // file alone): rebuilding while other test files run would rewrite dist/ files that worker
  // threads of the @dl/data tests are importing.
  const missing = pkgs.filter((p) => !existsSync(join(ROOT, 'packages', p.name.replace('@dl/', ''), 'dist', 'index.js')));
  if (missing.length) run('pnpm', ['turbo', 'run', 'build', '--output-logs=errors-only', ...missing.map((p) => `--filter=${p.name}`)], ROOT, 300_000);
  tmp = mkdtempSync(join(tmpdir(), 'dl-pack-'));
  project = join(tmp, 'project');
  mkdirSync(join(tmp, 'tarballs'));
  mkdirSync(project);
}, 300_000);

afterAll(() => {
  if (tmp && !process.env.DL_KEEP_PACK_TMP) rmSync(tmp, { recursive: true, force: true });
});

describe('pack → install → import', () => {
  test('there is at least one publishable package', () => {
    expect(pkgs.map((p) => p.name)).toContain('@dl/tensor');
  });

  test.each(pkgs.map((p) => [p.name, p] as const))('pnpm pack %s', (_name, pkg) => {
    const out = run('pnpm', ['pack', '--json', '--pack-destination', join(tmp, 'tarballs')], pkg.dir);
    const info = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as {
      filename: string;
      files: { path: string }[];
    };
    const files = info.files.map((f) => f.path);
    for (const target of pkg.targets) expect(files, `${pkg.name} ships ${target}`).toContain(target);
    expect(files.filter((f) => /^(src|test)\//.test(f)), 'no sources or tests in the tarball').toEqual([]);

    pkg.tarball = join(tmp, 'tarballs', info.filename.replace(/^.*\//, ''));
    expect(existsSync(pkg.tarball)).toBe(true);
    const manifest = run('tar', ['-xzOf', pkg.tarball, 'package/package.json'], tmp);
    expect(manifest, 'workspace: specifiers are rewritten to versions').not.toMatch(/workspace:/);
    expect(JSON.parse(manifest).version).toBe(pkg.version);
  }, SLOW);

  test('npm installs all tarballs together (ours from the tarballs, third-party dependencies from the npm cache or registry)', () => {
    const tarballs = pkgs.map((p) => p.tarball);
    expect(tarballs.every(Boolean), 'every package was packed').toBe(true);
    writeFileSync(
      join(project, 'package.json'),
      `${JSON.stringify({ name: 'dl-pack-smoke', version: '0.0.0', private: true, type: 'module' }, null, 2)}\n`,
    );
    run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...(tarballs as string[])], project);
    for (const p of pkgs) {
      const installed = JSON.parse(readFileSync(join(project, 'node_modules', p.name, 'package.json'), 'utf8'));
      expect(installed.version).toBe(p.version);
    }
  }, SLOW);

  // One script per module format: loads every package's main entry into `mods`, imports every
  // export path and reports its export count, then evaluates each package's SMOKE expression.
  // Output: one JSON object on stdout.
  const script = (format: 'esm' | 'cjs'): string => {
    const load = (s: string) => (format === 'esm' ? `await import(${JSON.stringify(s)})` : `require(${JSON.stringify(s)})`);
    const lines = [format === 'esm' ? '' : '(async () => {', 'const out = { exports: {}, smoke: {} };', 'const mods = {};', 'let m;'];
    for (const p of pkgs) lines.push(`mods[${JSON.stringify(p.name)}] = ${load(p.name)};`);
    for (const p of pkgs) {
      for (const s of p.specifiers) lines.push(`m = ${load(s)}; out.exports[${JSON.stringify(s)}] = Object.keys(m).length;`);
    }
    for (const p of pkgs) {
      const smoke = SMOKE[p.name];
      if (smoke) lines.push(`m = mods[${JSON.stringify(p.name)}]; out.smoke[${JSON.stringify(p.name)}] = await (${smoke.expr});`);
    }
    lines.push('console.log(JSON.stringify(out));', format === 'esm' ? '' : '})().catch((e) => { console.error(e); process.exit(1); });');
    return lines.join('\n');
  };

  test.each(['esm', 'cjs'] as const)('every package loads and works from %s', (format) => {
    const file = join(project, format === 'esm' ? 'smoke.mjs' : 'smoke.cjs');
    writeFileSync(file, script(format));
    const out = run(process.execPath, [file], project);
    const result = JSON.parse(out.trim().split('\n').pop() as string) as {
      exports: Record<string, number>;
      smoke: Record<string, unknown>;
    };
    for (const p of pkgs) {
      for (const s of p.specifiers) expect(result.exports[s], `${s} has exports (${format})`).toBeGreaterThan(0);
      const smoke = SMOKE[p.name];
      if (smoke) expect(result.smoke[p.name], `${p.name} smoke (${format})`).toEqual(smoke.expected);
    }
  }, SLOW);

  // The prebuilt addon travels in @dl/tensor's tarball (prebuilds/<platform>-<arch>/) and serves
  // 'cpu' in the fresh project with no compiler involved: DL_BACKEND=native turns a binary that
  // does not load into an error, and doctor() says which file loaded. Then one SGD step of the
  // tutorial ConvNet on a fixed batch runs through the native kernels and lowers the loss.
  const prebuilt = `prebuilds/${process.platform}-${process.arch}/dl_native.node`;
  const noPrebuilt = existsSync(join(ROOT, 'packages', 'tensor', prebuilt))
    ? null
    : `no ${prebuilt} in packages/tensor (the addon did not build here)`;
  test.skipIf(noPrebuilt !== null)(
    `the prebuilt native addon from the tarball trains a step in a fresh project${noPrebuilt ? ` (skipped: ${noPrebuilt})` : ''}`,
    () => {
      const tensorPkg = pkgs.find((p) => p.name === '@dl/tensor') as Pkg;
      const listing = run('tar', ['-tzf', tensorPkg.tarball as string], tmp);
      expect(listing.split('\n'), 'the tarball ships the prebuilt binary').toContain(`package/${prebuilt}`);
      const file = join(project, 'train-step.mjs');
      writeFileSync(
        file,
        [
          "import * as T from '@dl/tensor';",
          "import * as nn from '@dl/nn';",
          "import { SGD } from '@dl/optim';",
          "import { models } from '@dl/vision';",
          'T.manualSeed(0);',
          'const net = new models.TutorialNet();',
          'const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9 });',
          'const x = T.randn([16, 3, 32, 32]);',
          'const y = T.randint(0, 10, [16]);',
          'const losses = [];',
          'for (let i = 0; i < 5; i++) {',
          '  opt.zeroGrad();',
          '  const loss = nn.functional.crossEntropy(net.forward(x), y);',
          '  loss.backward();',
          '  opt.step();',
          '  losses.push(loss.item());',
          '}',
          'const d = T.doctor();',
          'console.log(JSON.stringify({ backend: d.cpu.backend, path: d.addon.path, source: d.addon.source, losses }));',
        ].join('\n'),
      );
      const out = execFileSync(process.execPath, [file], {
        cwd: project,
        encoding: 'utf8',
        env: { ...process.env, DL_BACKEND: 'native', DL_NATIVE_PATH: '' },
        timeout: SLOW,
      });
      const r = JSON.parse(out.trim().split('\n').pop() as string) as { backend: string; path: string; source: string; losses: number[] };
      expect(r.backend).toBe('cpu-native');
      expect(r.path).toBe(join(project, 'node_modules', '@dl', 'tensor', prebuilt));
      expect(r.losses.every(Number.isFinite)).toBe(true);
      // Memorising one fixed batch: five steps must lower the loss.
      expect(r.losses[4]).toBeLessThan(r.losses[0]);
    },
    SLOW,
  );

  test('the shipped type declarations type-check from ESM and CJS consumers', () => {
    const files: string[] = [];
    // every package's main entry, as `mods` in SMOKE expressions
    const modsImports = pkgs.map((p, i) => `import * as p${i} from ${JSON.stringify(p.name)};`);
    const modsDecl = `const mods = { ${pkgs.map((p, i) => `${JSON.stringify(p.name)}: p${i}`).join(', ')} };`;
    pkgs.forEach((p, i) => {
      const smoke = SMOKE[p.name];
      for (const ext of ['mts', 'cts']) {
        const body = [...modsImports, ...p.specifiers.map((s, j) => `import * as m${j} from ${JSON.stringify(s)};`)];
        body.push(`export const loaded = [${p.specifiers.map((_s, j) => `m${j}`).join(', ')}];`);
        if (smoke) body.push(modsDecl, `const m = mods[${JSON.stringify(p.name)}];`, `export const smoke = async () => ${smoke.expr};`);
        const name = `consumer${i}.${ext}`;
        writeFileSync(join(project, name), `${body.join('\n')}\n`);
        files.push(name);
      }
    });
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          typeRoots: [join(ROOT, 'node_modules', '@types')],
          types: ['node'],
        },
        files,
      }),
    );
    run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], project);
  }, SLOW);
});
