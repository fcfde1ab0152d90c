#!/usr/bin/env node
// Builds the native addon of @dl/tensor: native/build/Release/dl_native.node.
//
//   pnpm --filter @dl/tensor build:native        (= node native/build.mjs)
//
// No network and no node-gyp: it compiles native/src/*.cc with the C++ compiler (CXX, else
// g++, else c++) against the Node-API headers that ship with the running Node
// (<prefix of process.execPath>/include/node; override with DL_NODE_INCLUDE) and
// node-addon-api's headers (a dependency of @dl/tensor). Objects are cached in
// native/build/obj (native/build/obj-cuda for a CUDA build) and rebuilt when the flags, a
// source or a header it includes (followed through #include "...") change.
//
// Options:
//   --best-effort  a failed build prints one warning and exits 0 (the package `build` script
//                  uses it: without a compiler the TypeScript kernels still work)
//   --prebuild     copy the result to prebuilds/<platform>-<arch>/dl_native.node (what the
//                  published package ships; CI runs the package build before packing). An
//                  existing copy there is refreshed on every build, since the loader prefers it.
//   --clean        remove native/build first
//   --verbose      print the compiler commands
//   --emulate-cuda the emulated CUDA build (as DL_CUDA=emulate; see below)
//
// The binary targets the baseline of the architecture (x86-64: SSE2), so one prebuilt runs on
// any x86-64 CPU; the AVX2/FMA kernels are compiled with function target attributes and
// picked at run time by cpuid. libstdc++ and libgcc are linked statically for the same reason.
//
// CUDA: when nvcc is found ($NVCC, else nvcc on PATH, else /usr/local/cuda/bin/nvcc; DL_CUDA=0
// skips CUDA, DL_CUDA=1 makes a missing nvcc an error), native/src/cuda/*.cu are compiled with
// nvcc (-O3 -std=c++17, SASS for sm_80 and sm_90 plus compute_90 PTX that newer GPUs JIT;
// DL_CUDA_ARCHS=80,90,... changes the list, the highest also gets PTX) and native/src/cuda/*.cc
// with the C++ compiler; every C++ source gets -DDL_WITH_CUDA and the toolkit's include folder
// (CUDA_HOME, CUDA_PATH, the folder above nvcc's bin, else /usr/local/cuda). The CUDA runtime
// is linked statically (libcudart_static.a -ldl -lpthread -lrt): the addon then needs only the
// driver's libcuda.so at run time, which cudart loads itself, so it still loads (cuda.probe()
// says why CUDA is unavailable) on machines without a driver. cuBLAS is dlopen()ed at run time.
// info().build.cuda is true in such a build. If nvcc is there but a CUDA source fails to
// compile, the build fails like any C++ failure (--best-effort: the error, then exit 0);
// DL_CUDA=0 builds without CUDA.
//
// DL_CUDA=emulate (or --emulate-cuda) builds native/build/Emulated/dl_native.node instead: the
// same sources, CUDA included, compiled by the C++ compiler alone against the emulated runtime
// of native/src/cuda/emu (no nvcc, no GPU). Each `kernel<<<grid, block, shared, stream>>>(args)`
// is rewritten to the emulator's launch in a copy under native/build/emu-src. Tests load it with
// DL_NATIVE_PATH to run every CUDA test on the host (see emu/emu.cc for what it checks).
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emulateLaunches } from './emulate-launches.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PKG = dirname(HERE);
const SRC = join(HERE, 'src');
const CUDA_SRC = join(SRC, 'cuda');
const BUILD = join(HERE, 'build');
const args = new Set(process.argv.slice(2));
const emulate = process.env.DL_CUDA === 'emulate' || args.has('--emulate-cuda');
const OUT = join(BUILD, emulate ? 'Emulated' : 'Release', 'dl_native.node');
const EMU = join(CUDA_SRC, 'emu');
const EMU_SRC = join(BUILD, 'emu-src');
const bestEffort = args.has('--best-effort');
const verbose = args.has('--verbose');

class BuildError extends Error {
  constructor(message, fix) {
    super(message);
    this.fix = fix;
  }
}

function nodeInclude() {
  const candidates = [
    process.env.DL_NODE_INCLUDE,
    join(dirname(dirname(process.execPath)), 'include', 'node'),
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
  ].filter(Boolean);
  const found = candidates.find((d) => existsSync(join(d, 'node_api.h')));
  if (!found) {
    throw new BuildError(
      `Node-API headers not found (looked for node_api.h in ${candidates.join(', ')})`,
      'use an official Node build (it ships include/node next to bin/node), or set DL_NODE_INCLUDE to a folder holding node_api.h',
    );
  }
  return found;
}

function addonApiInclude() {
  try {
    const require = createRequire(join(PKG, 'package.json'));
    return dirname(require.resolve('node-addon-api/package.json'));
  } catch {
    throw new BuildError('node-addon-api is not installed', 'run `pnpm install` (node-addon-api is a dependency of @dl/tensor)');
  }
}

function run(cmd, argv) {
  if (verbose) console.log([cmd, ...argv].join(' '));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', (e) => reject(new BuildError(`cannot run ${cmd}: ${e.message}`, 'install a C++17 compiler (e.g. apt-get install g++) or set CXX')));
    child.on('close', (code) => {
      if (err && (code !== 0 || verbose)) process.stderr.write(err);
      if (code === 0) resolve();
      else reject(new BuildError(`${cmd} exited with ${code} (${argv.find((a) => /\.(cc|cu)$/.test(a)) ?? 'link'})`));
    });
  });
}

function findCompiler() {
  const names = [process.env.CXX, 'g++', 'c++', 'clang++'].filter(Boolean);
  for (const dir of (process.env.PATH ?? '').split(':')) {
    for (const n of names) {
      if (n.includes('/') ? existsSync(n) : existsSync(join(dir, n))) return n;
    }
  }
  throw new BuildError(`no C++ compiler found (tried ${names.join(', ')})`, 'install one (e.g. apt-get install g++) or set CXX');
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** The CUDA toolchain, or null when CUDA is off (DL_CUDA=0) or nvcc is not found. */
function findCuda() {
  if (emulate) return { emulated: true, archs: [] };
  if (process.env.DL_CUDA === '0') return null;
  const env = process.env.NVCC;
  const nvcc = env ? (env.includes('/') ? env : onPath(env)) : onPath('nvcc') || (existsSync('/usr/local/cuda/bin/nvcc') ? '/usr/local/cuda/bin/nvcc' : null);
  if (!nvcc || !existsSync(nvcc)) {
    if (process.env.DL_CUDA === '1' || env) {
      throw new BuildError(`nvcc not found (${env ? `NVCC=${env}` : 'PATH, /usr/local/cuda/bin'})`, 'install the CUDA toolkit, set NVCC to its nvcc, or set DL_CUDA=0');
    }
    return null;
  }
  const homes = [process.env.CUDA_HOME, process.env.CUDA_PATH, dirname(dirname(realpathSync(nvcc))), '/usr/local/cuda'].filter(Boolean);
  const home = homes.find((d) => existsSync(join(d, 'include', 'cuda_runtime_api.h')));
  if (!home) {
    throw new BuildError(`nvcc is at ${nvcc} but the CUDA headers are not (looked for include/cuda_runtime_api.h in ${homes.join(', ')})`, 'set CUDA_HOME to the toolkit folder, or DL_CUDA=0 to build without CUDA');
  }
  const libs = ['lib64', 'lib', join('targets', 'x86_64-linux', 'lib')].map((l) => join(home, l, 'libcudart_static.a'));
  const cudart = libs.find(existsSync);
  if (!cudart) throw new BuildError(`libcudart_static.a not found (looked in ${libs.join(', ')})`, 'install the CUDA toolkit\'s runtime library, or set DL_CUDA=0');
  const sms = (process.env.DL_CUDA_ARCHS ?? '80,90').split(/[\s,;]+/).filter(Boolean).map(Number);
  if (sms.length === 0 || sms.some((a) => !Number.isInteger(a) || a < 50)) {
    throw new BuildError(`DL_CUDA_ARCHS=${process.env.DL_CUDA_ARCHS} is not a list of SM versions`, 'use e.g. DL_CUDA_ARCHS=80,90');
  }
  const top = Math.max(...sms);
  const gencode = [...sms.flatMap((a) => ['-gencode', `arch=compute_${a},code=sm_${a}`]), '-gencode', `arch=compute_${top},code=compute_${top}`];
  const archs = [...sms.map((a) => `sm_${a}`), `compute_${top}`];
  return { nvcc, home, cudart, gencode, archs };
}

const INCLUDE_RE = /^\s*#\s*include\s*"([^"]+)"/gm;

/** A source and the files it includes with #include "..." (resolved next to it, then in src/), transitively. */
function dependencies(file, seen = new Set()) {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const m of readFileSync(file, 'utf8').matchAll(INCLUDE_RE)) {
    const dep = [join(dirname(file), m[1]), join(SRC, m[1])].find(existsSync);
    if (dep) dependencies(dep, seen);
  }
  return seen;
}

const mtime = (f) => statSync(f).mtimeMs;


/** Writes the launch-rewritten copies of the CUDA sources (*.cu, *.cuh) into EMU_SRC, touching only those that changed. */
function writeEmulatedSources() {
  mkdirSync(EMU_SRC, { recursive: true });
  for (const f of readdirSync(CUDA_SRC).filter((n) => /\.cuh?$/.test(n))) {
    const text = emulateLaunches(readFileSync(join(CUDA_SRC, f), 'utf8'));
    const dst = join(EMU_SRC, f);
    if (!existsSync(dst) || readFileSync(dst, 'utf8') !== text) writeFileSync(dst, text);
  }
}

async function build() {
  if (args.has('--clean')) rmSync(BUILD, { recursive: true, force: true });
  if (process.platform === 'win32') throw new BuildError('building on Windows is not supported yet', 'use the TypeScript kernels (DL_BACKEND=ts)');
  const cxx = findCompiler();
  const cuda = findCuda();
  const version = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')).version;
  const includes = [nodeInclude(), addonApiInclude(), SRC];
  const cudaDefs = !cuda ? [] : cuda.emulated ? ['-DDL_WITH_CUDA', '-DDL_CUDA_EMULATED', `-I${EMU}`] : ['-DDL_WITH_CUDA', `-DDL_CUDA_ARCHS="${cuda.archs.join(' ')}"`, `-I${join(cuda.home, 'include')}`];
  const flags = [
    '-std=c++17', '-O3', '-fPIC', '-fvisibility=hidden', '-pthread', '-fexceptions', '-fno-math-errno',
    '-Wall', '-Wextra', '-Wno-unused-parameter', '-Wno-missing-field-initializers',
    '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_DISABLE_DEPRECATED', '-DBUILDING_NODE_EXTENSION',
    // An error raised while its thread's JavaScript environment is shutting down (a worker_thread
    // terminated mid-call) cannot be thrown; without this node-addon-api throws again from its
    // callback wrapper and std::terminate aborts the whole process.
    '-DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS',
    `-DDL_ADDON_VERSION="${version}"`,
    ...cudaDefs,
    ...includes.map((d) => `-I${d}`),
  ];
  const nvccFlags = cuda && !cuda.emulated
    ? ['-ccbin', cxx, '-std=c++17', '-O3', '-Xcompiler', '-fPIC,-fvisibility=hidden,-fno-math-errno', ...cuda.gencode, '-DDL_WITH_CUDA', `-I${SRC}`]
    : [];
  const shownFlags = `-std=c++17 -O3 -fPIC -fvisibility=hidden -pthread -fno-math-errno (AVX2/FMA kernels via target attributes)${cuda?.emulated ? '; CUDA emulated on the host' : cuda ? `; CUDA ${cuda.archs.join(' ')}` : ''}`;
  // The emulated kernels: the rewritten copies as C++, finding the CUDA headers next to the originals.
  const emuFlags = ['-x', 'c++', `-I${CUDA_SRC}`, '-Wno-unknown-pragmas'];
  const linkFlags = [
    ...(cuda && !cuda.emulated ? [cuda.cudart, '-lpthread', '-lrt'] : []),
    '-shared', '-pthread', '-static-libstdc++', '-static-libgcc', ...(process.platform === 'darwin' ? ['-undefined', 'dynamic_lookup'] : ['-ldl', '-s']),
  ];
  const OBJ = join(BUILD, cuda?.emulated ? 'obj-emu' : cuda ? 'obj-cuda' : 'obj');
  if (cuda?.emulated) writeEmulatedSources();
  // Every unit: its source, its object, its compiler. CUDA kernels first, largest first (nvcc
  // dominates a clean build: the biggest unit must not start last on 2 cores).
  const cuSources = cuda ? readdirSync(CUDA_SRC).filter((f) => f.endsWith('.cu')) : [];
  cuSources.sort((a, b) => statSync(join(CUDA_SRC, b)).size - statSync(join(CUDA_SRC, a)).size || a.localeCompare(b));
  const units = [
    ...cuSources.map((f) =>
      cuda.emulated
        ? { src: join(CUDA_SRC, f), compile: join(EMU_SRC, f), obj: join(OBJ, `cuda_${f}.o`), nvcc: false, extra: emuFlags }
        : { src: join(CUDA_SRC, f), obj: join(OBJ, `cuda_${f}.o`), nvcc: true },
    ),
    ...readdirSync(SRC).filter((f) => f.endsWith('.cc')).sort().map((f) => ({ src: join(SRC, f), obj: join(OBJ, f.replace(/\.cc$/, '.o')), nvcc: false })),
    ...(cuda ? readdirSync(CUDA_SRC).filter((f) => f.endsWith('.cc')).sort().map((f) => ({ src: join(CUDA_SRC, f), obj: join(OBJ, `cuda_${f.replace(/\.cc$/, '.o')}`), nvcc: false })) : []),
    ...(cuda?.emulated ? [{ src: join(EMU, 'emu.cc'), obj: join(OBJ, 'cuda_emu.o'), nvcc: false }] : []),
  ];
  // The emulated runtime's headers come in through <...>, which dependencies() does not follow.
  const emuHeaders = cuda?.emulated ? readdirSync(EMU).filter((f) => f.endsWith('.h')).map((f) => join(EMU, f)) : [];
  const napiHeaders = [join(includes[1], 'napi.h'), join(includes[1], 'napi-inl.h')].filter(existsSync);
  mkdirSync(OBJ, { recursive: true });
  mkdirSync(dirname(OUT), { recursive: true });

  // Flags changed: rebuild everything.
  const stamp = join(OBJ, 'flags.txt');
  const flagText = JSON.stringify({ cxx, flags, linkFlags, nvcc: cuda?.nvcc ?? null, nvccFlags });
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== flagText) {
    for (const f of readdirSync(OBJ)) rmSync(join(OBJ, f), { force: true });
    writeFileSync(stamp, flagText);
  }
  const stale = units.filter((u) => {
    if (!existsSync(u.obj)) return true;
    const deps = [...dependencies(u.src), ...(u.nvcc ? [] : napiHeaders), ...emuHeaders, stamp];
    return mtime(u.obj) < Math.max(...deps.map(mtime));
  });
  const objects = units.map((u) => u.obj);
  // Which configuration the binary was linked from (a CUDA and a CPU-only build share OUT).
  const outStamp = `${OUT}.flags`;
  const linkedFrom = existsSync(outStamp) ? readFileSync(outStamp, 'utf8') : '';
  if (stale.length === 0 && existsSync(OUT) && linkedFrom === flagText && mtime(OUT) >= Math.max(...objects.map(mtime))) {
    console.log(`dl native: up to date (${relative(process.cwd(), OUT)}${cuda ? ', with CUDA' : ''})`);
    return;
  }
  const t0 = Date.now();
  const compilers = cuda?.emulated ? `${cxx} (CUDA emulated on the host)` : cuda ? `${cxx} and ${cuda.nvcc} (CUDA in ${cuda.home}, ${cuda.archs.join(' ')})` : cxx;
  console.log(`dl native: compiling ${stale.length} of ${units.length} sources with ${compilers}`);
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const queue = [...stale];
  const jobs = Math.max(1, Math.min(queue.length, os.availableParallelism?.() ?? os.cpus().length));
  await Promise.all(
    Array.from({ length: jobs }, async () => {
      for (let u = queue.shift(); u !== undefined; u = queue.shift()) {
        if (u.nvcc) {
          await run(cuda.nvcc, [...nvccFlags, '-c', u.src, '-o', u.obj]).catch((e) => {
            throw new BuildError(`${e.message}: the CUDA part failed to compile`, 'fix the error above, or set DL_CUDA=0 to build without CUDA');
          });
        } else {
          const extra = u.src === join(SRC, 'binding.cc') ? [`-DDL_BUILD_DATE="${date}"`, `-DDL_BUILD_FLAGS="${shownFlags}"`] : (u.extra ?? []);
          await run(cxx, [...flags, ...extra, '-c', u.compile ?? u.src, '-o', u.obj]);
        }
      }
    }),
  );
  const tmp = `${OUT}.tmp`;
  await run(cxx, [...objects, ...linkFlags, '-o', tmp]);
  // Replace by rename, never in place: a running process may have the old binary mapped.
  renameSync(tmp, OUT);
  writeFileSync(outStamp, flagText);
  console.log(`dl native: built ${relative(process.cwd(), OUT)}${cuda ? ' with CUDA' : ''} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/**
 * The emulated device's host stand-ins of cuBLAS and cuDNN (emu/host_*.cc), next to its addon
 * under the names the loaders look for; the addon loads them when DL_CUDA_EMU_LIBS names that folder.
 */
async function buildStandIns() {
  const cxx = findCompiler();
  for (const [src, name] of [['host_cublas.cc', 'libcublas.so.13'], ['host_cudnn.cc', 'libcudnn.so.9']]) {
    const out = join(dirname(OUT), name);
    if (existsSync(out) && mtime(out) >= Math.max(mtime(join(EMU, src)), mtime(join(EMU, 'stream.h')))) continue;
    await run(cxx, ['-std=c++17', '-O2', '-fPIC', '-shared', '-fvisibility=hidden', '-static-libstdc++', '-static-libgcc', join(EMU, src), '-o', `${out}.tmp`]);
    renameSync(`${out}.tmp`, out);
    console.log(`dl native: built ${relative(process.cwd(), out)} (host stand-in for the emulated device)`);
  }
}

function prebuild() {
  const dir = join(PKG, 'prebuilds', `${process.platform}-${process.arch}`);
  mkdirSync(dir, { recursive: true });
  const dst = join(dir, 'dl_native.node');
  if (existsSync(dst)) {
    // Copied after this build (same size, not older): up to date without reading both binaries.
    const [d, o] = [statSync(dst), statSync(OUT)];
    if (d.size === o.size && (d.mtimeMs >= o.mtimeMs || readFileSync(dst).equals(readFileSync(OUT)))) return;
  }
  copyFileSync(OUT, `${dst}.tmp`);
  renameSync(`${dst}.tmp`, dst);
  console.log(`dl native: copied to ${relative(process.cwd(), join(dir, 'dl_native.node'))}`);
}

try {
  await build();
  if (emulate) await buildStandIns();
  // --prebuild makes the prebuilt copy; an existing one is always refreshed, since the loader
  // prefers it to native/build (a stale copy would shadow this build).
  if (!emulate && (args.has('--prebuild') || existsSync(join(PKG, 'prebuilds', `${process.platform}-${process.arch}`, 'dl_native.node')))) prebuild();
} catch (e) {
  const fix = e instanceof BuildError && e.fix ? `; fix: ${e.fix}` : '';
  const msg = `dl native: build failed: ${e.message}${fix}`;
  if (bestEffort) {
    console.warn(`${msg}\ndl native: continuing without ${emulate ? 'the emulated CUDA addon (the CUDA tests then run only where a GPU is)' : 'the native addon (the TypeScript CPU kernels will be used)'}`);
    process.exit(0);
  }
  console.error(msg);
  process.exit(1);
}
