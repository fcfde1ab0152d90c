#!/usr/bin/env node
// Builds, on this machine, what a GPU device run carries in .device/ (scripts/device/README.md):
//
//   .device/bundle/cuda-tests.mjs   the device test runner (node:test)
//   .device/bundle/bench-cuda.mjs   our benchmark
//   .device/bundle/cifar-cache.mjs  CIFAR-10 JPEG folder -> uint8 binary cache
//   .device/bundle/chunk-*.mjs      code they share: all of dl and its dependencies, bundled by
//                                   esbuild from the packages' TypeScript sources
//   .device/bundle/dl_native.node.xz  the native addon (with nvcc it holds the CUDA kernels), xz-
//                                   compressed (CUDA code for two architectures is large and
//                                   compresses about 10x); run.sh unpacks it and names it in
//                                   DL_NATIVE_PATH, which the bundles' @dl/tensor loads first
//   .device/cifar-10-jpeg.tar.gz    the CIFAR-10 JPEG archive, copied once from the shared datasets
//
// then prints the sizes against the 64 MiB a run may carry. `.device/node.xz` comes from
// `bash ../shared/device/prepare-node.sh`.
//
//   node scripts/device/build.mjs [--out DIR] [--no-native] [--no-data] [--require-cuda] [--emulated-cuda]
//
//   --out DIR        bundle folder (default .device/bundle; the vitest check builds into a temp folder)
//   --no-native      do not rebuild the addon first (copy the one that is there, if any)
//   --no-data        do not copy the JPEG archive
//   --require-cuda   fail when the addon has no CUDA part (use it before a device run)
//   --emulated-cuda  bundle the DL_CUDA=emulate addon instead (built unless --no-native): a
//                    rehearsal of the device run here, `run.sh --device cuda` on the host CPU
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SRC = join(ROOT, 'scripts', 'device', 'src');
const NATIVE = join(ROOT, 'packages', 'tensor', 'native');
const JPEG_ARCHIVE = join(ROOT, '..', 'shared', 'datasets', 'cifar10', 'cifar-10-jpeg.tar.gz');
const DEVICE_DIR = join(ROOT, '.device');
const CARRY_LIMIT = 64 * 2 ** 20;
const ENTRIES = ['cuda-tests', 'bench-cuda', 'cifar-cache'];

const { values: opt } = parseArgs({
  options: {
    out: { type: 'string', default: join(DEVICE_DIR, 'bundle') },
    'no-native': { type: 'boolean', default: false },
    'no-data': { type: 'boolean', default: false },
    'require-cuda': { type: 'boolean', default: false },
    'emulated-cuda': { type: 'boolean', default: false },
  },
});
const OUT_DIR = opt.out;
const ADDON = join(NATIVE, 'build', opt['emulated-cuda'] ? 'Emulated' : 'Release', 'dl_native.node');

// esbuild comes with tsup (a root dev dependency); pnpm does not hoist it to the root.
const esbuild = createRequire(createRequire(import.meta.url).resolve('tsup/package.json', { paths: [ROOT] }))('esbuild');

/** `@dl/x` and `@dl/x/sub` -> packages/x/src/index.ts and packages/x/src/sub.ts (as vitest.config.ts maps them). */
const dlSources = {
  name: 'dl-sources',
  setup(build) {
    build.onResolve({ filter: /^@dl\/[a-z-]+(\/[a-z-]+)?$/ }, ({ path }) => {
      const [, pkg, sub] = path.split('/');
      const file = join(ROOT, 'packages', pkg, 'src', `${sub ?? 'index'}.ts`);
      if (!existsSync(file)) return { errors: [{ text: `${path}: no source file ${relative(ROOT, file)}` }] };
      return { path: file };
    });
  },
};

// `require` for the CommonJS dependencies (jpeg-js, pngjs) inside an ES module.
const BANNER = "import { createRequire as __dlCreateRequire } from 'node:module';\nconst require = __dlCreateRequire(import.meta.url);";

const MiB = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function sizeOf(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, f) => sum + sizeOf(join(path, f)), 0);
}

/** Rebuilds the addon (incremental; compiles the CUDA sources when nvcc is there, or emulated with --emulated-cuda). */
function buildAddon() {
  const env = opt['emulated-cuda'] ? { ...process.env, DL_CUDA: 'emulate' } : process.env;
  const r = spawnSync(process.execPath, [join(NATIVE, 'build.mjs')], { cwd: ROOT, stdio: 'inherit', env });
  if (r.status !== 0) throw new Error(`the addon build failed (exit ${r.status}): fix it or pass --no-native to bundle the addon that is there`);
}

/** What the copied addon holds: its CUDA part and the architectures it was compiled for. */
function addonSummary(path) {
  const mod = { exports: {} };
  try {
    process.dlopen(mod, path);
  } catch (e) {
    return { cuda: false, text: `does not load here: ${String(e.message).split('\n')[0]}` };
  }
  const cuda = mod.exports.cuda;
  if (!cuda) return { cuda: false, text: 'CPU only (no CUDA part: built without nvcc, or the CUDA sources are not there yet)' };
  const probe = cuda.probe();
  if (probe.emulated) return { cuda: true, emulated: true, text: 'CUDA emulated on the host CPU (a rehearsal bundle: never carry it to the GPU)' };
  return { cuda: true, text: `CUDA part for ${probe.archs.join(', ') || 'unknown archs'} (here: ${probe.available ? 'a GPU is visible' : probe.reason})` };
}

/** Bytes a device run sends besides the carried paths: tracked and untracked, not ignored, files. */
function workingTreeBytes() {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  return files.reduce((sum, f) => sum + sizeOf(join(ROOT, f)), 0);
}

async function main() {
  if (!opt['no-native']) buildAddon();
  rmSync(OUT_DIR, { recursive: true, force: true });
  mkdirSync(OUT_DIR, { recursive: true });
  await esbuild.build({
    entryPoints: Object.fromEntries(ENTRIES.map((e) => [e, join(SRC, `${e}.ts`)])),
    outdir: OUT_DIR,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outExtension: { '.js': '.mjs' },
    sourcemap: 'linked',
    banner: { js: BANNER },
    plugins: [dlSources],
    logLevel: 'warning',
  });
  let addon = { cuda: false, text: 'missing: the bundle will use the TypeScript CPU kernels and has no CUDA' };
  if (existsSync(ADDON)) {
    addon = addonSummary(ADDON);
    writeFileSync(join(OUT_DIR, 'dl_native.node.xz'), execFileSync('xz', ['-1', '-T0', '-c', ADDON], { maxBuffer: 1 << 30 }));
    addon.text += `; ${MiB(sizeOf(ADDON))}, ${MiB(sizeOf(join(OUT_DIR, 'dl_native.node.xz')))} compressed`;
  }
  const archive = join(DEVICE_DIR, 'cifar-10-jpeg.tar.gz');
  if (!opt['no-data'] && !existsSync(archive)) {
    if (!existsSync(JPEG_ARCHIVE)) throw new Error(`${JPEG_ARCHIVE} is missing: the recipe benchmark needs the CIFAR-10 JPEG archive (or pass --no-data)`);
    mkdirSync(DEVICE_DIR, { recursive: true });
    copyFileSync(JPEG_ARCHIVE, archive);
  }

  const bundle = sizeOf(OUT_DIR);
  console.log(`bundle: ${relative(ROOT, OUT_DIR) || OUT_DIR} ${MiB(bundle)} (${readdirSync(OUT_DIR).length} files)`);
  console.log(`addon: ${addon.text}`);
  if (OUT_DIR === join(DEVICE_DIR, 'bundle')) {
    const node = join(DEVICE_DIR, 'node.xz');
    const device = sizeOf(DEVICE_DIR);
    const tree = workingTreeBytes();
    const extra = readdirSync(DEVICE_DIR).filter((f) => !['bundle', 'node.xz', 'cifar-10-jpeg.tar.gz'].includes(f));
    console.log(`.device: ${MiB(device)} (node.xz ${existsSync(node) ? MiB(sizeOf(node)) : 'MISSING: run bash ../shared/device/prepare-node.sh'}, JPEG archive ${MiB(sizeOf(archive))}, bundle ${MiB(bundle)})`);
    if (extra.length) console.log(`warning: .device also holds ${extra.join(', ')}, which would travel too`);
    console.log(`a run carries about ${MiB(device + tree)} of ${MiB(CARRY_LIMIT)} (working tree ${MiB(tree)})`);
    if (device + tree > CARRY_LIMIT) throw new Error('over the 64 MiB a device run may carry');
  }
  if (opt['require-cuda'] && (!addon.cuda || addon.emulated)) throw new Error(`--require-cuda: the addon has no CUDA part for a GPU (${addon.text})`);
}

main().catch((e) => {
  console.error(`scripts/device/build.mjs: ${e.message}`);
  process.exit(1);
});
