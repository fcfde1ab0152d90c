/**
 * The GPU device run (scripts/device/), checked here on the CPU, since a GPU machine is lent
 * only to some sessions and for minutes: builds the bundle into a temp folder, makes a tiny
 * CIFAR-like JPEG archive, runs `run.sh --device cpu --smoke` (addon, cache, the device test
 * runner on a subset, our benchmark, PyTorch's when a python with torch is here, the report) and
 * checks every step's output; then that a CUDA run without a usable GPU fails saying why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'dl-device-script-'));
const bundle = join(dir, 'bundle');
const out = join(dir, 'out');
const CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
/** Enough training images for one recipe step of 128. */
const PER_CLASS = { train: 13, test: 2 };
const OUR_METRICS = ['data-extract', 'data-decode', 'convnet-train', 'convnet-eval', 'resnet9-train', 'recipe-upload', 'recipe-wall', 'recipe-epoch', 'recipe-test-acc'];
const TORCH_METRICS = ['convnet-train', 'convnet-eval', 'resnet9-train', 'recipe-upload', 'recipe-wall', 'recipe-epoch', 'recipe-test-acc'];

/** The first python that imports torch (PyTorch's side runs only then), or null. */
function torchPython(): string | null {
  for (const py of ['/opt/torch/.venv/bin/python', '/usr/bin/python3', 'python3']) {
    if (spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return py;
  }
  return null;
}
const python = torchPython();
/** The addon the bundle carries (compressed), when it is built here. */
const addonBuilt = existsSync(join(ROOT, 'packages', 'tensor', 'native', 'build', 'Release', 'dl_native.node'));

/** cifar-10-jpeg/{train,test}/<class>/NNNN.jpg of random 32x32 images, as tar.gz. */
function tinyArchive(): string {
  const jpeg = createRequire(join(ROOT, 'packages', 'vision', 'package.json'))('jpeg-js') as {
    encode(img: { data: Uint8Array; width: number; height: number }, quality: number): { data: Uint8Array };
  };
  let seed = 1;
  const byte = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed & 255;
  };
  for (const [split, n] of Object.entries(PER_CLASS)) {
    for (const cls of CLASSES) {
      const folder = join(dir, 'src', 'cifar-10-jpeg', split, cls);
      mkdirSync(folder, { recursive: true });
      for (let i = 0; i < n; i++) {
        const rgba = Uint8Array.from({ length: 32 * 32 * 4 }, byte);
        writeFileSync(join(folder, `${String(i).padStart(4, '0')}.jpg`), jpeg.encode({ data: rgba, width: 32, height: 32 }, 90).data);
      }
    }
  }
  const archive = join(dir, 'tiny.tar.gz');
  const tar = spawnSync('tar', ['-czf', archive, '-C', join(dir, 'src'), 'cifar-10-jpeg'], { encoding: 'utf8' });
  if (tar.status !== 0) throw new Error(tar.stderr);
  return archive;
}

/** The JSON lines of a run's output file (other lines skipped). */
const jsonLinesIn = (folder: string, file: string) =>
  readFileSync(join(folder, file), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const jsonLines = (file: string) => jsonLinesIn(out, file);

let run: ReturnType<typeof spawnSync>;

beforeAll(() => {
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts', 'device', 'build.mjs'), '--out', bundle, '--no-native', '--no-data'], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`build.mjs failed: ${build.stderr}`);
  const archive = tinyArchive();
  run = spawnSync('bash', [join(ROOT, 'scripts', 'device', 'run.sh'), '--device', 'cpu', '--smoke'], {
    encoding: 'utf8',
    env: {
      ...process.env,
      OUT: out,
      TMPDIR: dir,
      DL_NODE: process.execPath,
      DL_DEVICE_BUNDLE: bundle,
      DL_CIFAR_ARCHIVE: archive,
      DL_TORCH_PYTHON: python ?? join(dir, 'no-python'),
    },
  });
}, 150_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('scripts/device: run.sh --device cpu --smoke', () => {
  it('runs every step; only the PyTorch step (no python with torch) and the addon (not built) may be missing', () => {
    const steps = jsonLines('steps.jsonl');
    expect(steps.find((s) => s.kind === 'env')).toMatchObject({ device: 'cpu', mode: 'smoke' });
    const status = Object.fromEntries(steps.filter((s) => s.kind === 'step').map((s) => [s.step, s.status]));
    expect(status).toEqual({
      addon: addonBuilt ? 'ok' : expect.stringMatching(/^skipped/),
      data: 'ok',
      tests: 'ok',
      'own-conv': 'ok',
      ours: 'ok',
      torch: python ? 'ok' : expect.stringMatching(/^failed/),
    });
    expect(run.status).toBe(python && addonBuilt ? 0 : 1);
  });

  it('the device test runner ran on cpu against the reference backend and passed', () => {
    const log = readFileSync(join(out, 'tests.log'), 'utf8');
    expect(log).toMatch(/op specs on cpu against the float64 reference/);
    expect(log).toMatch(/layers on cpu against reference/);
    expect(Number(log.match(/^ℹ pass (\d+)$/m)?.[1])).toBeGreaterThan(40);
    expect(log).toMatch(/^ℹ fail 0$/m);
  });

  it('the convolution cases ran again on their own (DL_CUDNN=0) and passed', () => {
    const log = readFileSync(join(out, 'own-conv.log'), 'utf8');
    expect(log).toMatch(/✔ Conv2d\(3, 6, 5\) \(tutorial conv1\)/);
    expect(log).toMatch(/✔ TutorialNet/);
    expect(log).toMatch(/Linear\(20, 7\) .*# test name does not match pattern/);
    expect(Number(log.match(/^ℹ pass (\d+)$/m)?.[1])).toBeGreaterThan(3);
    expect(log).toMatch(/^ℹ fail 0$/m);
  });

  it('the cache holds the archive: 130 training and 20 test images', () => {
    const decode = jsonLines('ours.jsonl').find((l) => l.metric === 'data-decode');
    expect(decode).toMatchObject({ suite: 'data', train: 130, test: 20 });
  });

  it('our benchmark prints every metric with a value, the peak memory field, the host time to issue a step and the model sizes', () => {
    const lines = jsonLines('ours.jsonl');
    for (const metric of OUR_METRICS) {
      const line = lines.find((l) => l.metric === metric);
      expect(line, metric).toBeDefined();
      expect(line?.error, metric).toBeUndefined();
      expect(Number.isFinite(line?.value), metric).toBe(true);
    }
    for (const metric of ['convnet-train', 'convnet-eval', 'resnet9-train', 'recipe-wall']) {
      expect(lines.find((l) => l.metric === metric), metric).toHaveProperty('peak_bytes', null);
    }
    for (const metric of ['convnet-train', 'convnet-eval', 'resnet9-train']) {
      // On the CPU a step runs as it is issued: the time to issue it is its time, within noise.
      const line = lines.find((l) => l.metric === metric);
      expect(line?.issue_ms, metric).toBeGreaterThan(0);
      expect(line?.issue_ms, metric).toBeLessThan(3 * (line?.step_ms as number) + 50);
    }
    expect(lines.find((l) => l.metric === 'resnet9-train')).toHaveProperty('params', 6573120);
    expect(lines.find((l) => l.metric === 'recipe-wall')).toMatchObject({ epochs: 1, train_images: 130, steps_per_epoch: 1 });
  });

  it.skipIf(!python)("PyTorch's benchmark prints the same metrics for the same models; torch.compile is skipped on the CPU", () => {
    const lines = jsonLines('torch.jsonl');
    for (const metric of TORCH_METRICS) {
      const line = lines.find((l) => l.suite === 'torch-eager' && l.metric === metric);
      expect(line?.error, metric).toBeUndefined();
      expect(Number.isFinite(line?.value), metric).toBe(true);
    }
    expect(lines.find((l) => l.metric === 'resnet9-train')).toHaveProperty('params', 6573120);
    expect(lines.find((l) => l.suite === 'torch-eager' && l.metric === 'convnet-train')?.issue_ms).toBeGreaterThan(0);
    expect(lines.find((l) => l.suite === 'torch-compiled')).toMatchObject({ metric: 'convnet-train', skipped: 'not on the CPU' });
  });

  it('ends with the report: a table with our numbers beside PyTorch eager and compiled', () => {
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(run.stdout.trimEnd().endsWith('<!-- /cuda -->')).toBe(true);
    expect(report).toMatch(/\| metric \| unit \| ours \| PyTorch eager \| PyTorch compiled \| ours vs eager \|/);
    expect(report).toMatch(/Device tests \(cpu\): \d+ passed, 0 failed/);
    for (const row of [
      /\| tutorial ConvNet train step, batch 128 \| images\/s \| [\d.]+ \|/,
      /\| ResNet-9 train step, batch 2, fp32 \|/,
      /\| recipe: test accuracy after 1 epochs \| % \| [\d.]+ \|/,
      /\| host time to issue a ConvNet train step \(no wait\) \| ms \| [\d.]+ \|/,
    ]) {
      expect(report).toMatch(row);
    }
  });
});

/** The DL_CUDA=emulate addon (the package build makes it): the device run can be rehearsed on it. */
const emulatedAddon = join(ROOT, 'packages', 'tensor', 'native', 'build', 'Emulated', 'dl_native.node');
const noEmulated = existsSync(emulatedAddon) ? '' : ' (skipped: the DL_CUDA=emulate addon is not built: pnpm --filter @dl/tensor build:native:emulated)';

describe.skipIf(!!noEmulated)(`scripts/device: run.sh --device cuda --smoke, rehearsed on the emulated CUDA device${noEmulated}`, () => {
  const emuBundle = join(dir, 'bundle-emulated');
  const emuOut = join(dir, 'out-emulated');
  const lines = (file: string) => jsonLinesIn(emuOut, file);
  let rehearsal: ReturnType<typeof spawnSync>;
  beforeAll(() => {
    const build = spawnSync(process.execPath, [join(ROOT, 'scripts', 'device', 'build.mjs'), '--out', emuBundle, '--no-native', '--no-data', '--emulated-cuda'], { encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`build.mjs --emulated-cuda failed: ${build.stderr}`);
    rehearsal = spawnSync('bash', [join(ROOT, 'scripts', 'device', 'run.sh'), '--device', 'cuda', '--smoke'], {
      encoding: 'utf8',
      env: {
        ...process.env,
        OUT: emuOut,
        TMPDIR: dir,
        DL_NODE: process.execPath,
        DL_DEVICE_BUNDLE: emuBundle,
        DL_CIFAR_ARCHIVE: join(dir, 'tiny.tar.gz'), // made by the CPU run's beforeAll
        DL_BACKEND: '',
        DL_CUDA_EMU_LIBS: dirname(emulatedAddon), // its host stand-ins of cuBLAS and cuDNN
        DL_TORCH_PYTHON: python ?? join(dir, 'no-python'),
      },
    });
  }, 240_000);

  it('every step of ours runs on the emulated device; only PyTorch fails (its build has no CUDA here)', () => {
    const status = Object.fromEntries(lines('steps.jsonl').filter((s) => s.kind === 'step').map((s) => [s.step, s.status]));
    expect(status).toMatchObject({ addon: 'ok', data: 'ok', tests: 'ok', 'own-conv': 'ok', ours: 'ok', torch: expect.stringMatching(/^failed/) });
    expect(rehearsal.status).toBe(1);
  });

  it('the device test runner passed on cuda, and the convolution cases again on the built-in kernels', () => {
    const log = readFileSync(join(emuOut, 'tests.log'), 'utf8');
    expect(log).toMatch(/op specs on cuda against the float64 reference/);
    expect(Number(log.match(/^ℹ pass (\d+)$/m)?.[1])).toBeGreaterThan(40);
    expect(log).toMatch(/^ℹ fail 0$/m);
    expect(log).toMatch(/✔ conv2d and both its gradients run through cuDNN, matmul through cuBLAS/);
    const conv = readFileSync(join(emuOut, 'own-conv.log'), 'utf8');
    expect(conv).toMatch(/✔ TutorialNet/);
    expect(conv).toMatch(/^ℹ fail 0$/m);
  });

  it('our benchmark prints every metric on cuda, with the peak device memory', () => {
    const ours = lines('ours.jsonl');
    for (const metric of OUR_METRICS) {
      const line = ours.find((l) => l.metric === metric);
      expect(line?.error, metric).toBeUndefined();
      expect(Number.isFinite(line?.value), metric).toBe(true);
    }
    for (const metric of ['convnet-train', 'convnet-eval', 'resnet9-train', 'recipe-wall']) {
      expect(ours.find((l) => l.metric === metric)?.peak_bytes, metric).toBeGreaterThan(0);
    }
    // The emulated stream runs only when the host waits: issuing a step is far quicker than running it.
    const train = ours.find((l) => l.metric === 'convnet-train');
    expect(train?.issue_ms).toBeGreaterThan(0);
    expect(train?.issue_ms).toBeLessThan((train?.step_ms as number) / 2);
    const report = readFileSync(join(emuOut, 'report.md'), 'utf8');
    expect(report).toMatch(/Device tests \(cuda\): \d+ passed, 0 failed/);
  });
});

describe('scripts/device: CUDA without a usable GPU', () => {
  // The bundle picks its backend itself (the suite also runs under DL_BACKEND=ts, which would hide the addon).
  const env = { ...process.env, CUDA_VISIBLE_DEVICES: '', DL_BACKEND: '' };
  it('the test runner fails with the reason', () => {
    const r = spawnSync(process.execPath, ['--test-reporter=spec', join(bundle, 'cuda-tests.mjs')], { encoding: 'utf8', env: { ...env, DL_TEST_DEVICE: 'cuda' } });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/device 'cuda' can be used/);
    expect(r.stdout).toMatch(/no 'cuda' namespace|cuda\.isAvailable\(\) is false/);
  });
  it('the benchmark prints an env line with the error and exits 1', () => {
    const r = spawnSync(process.execPath, [join(bundle, 'bench-cuda.mjs'), '--device', 'cuda'], { encoding: 'utf8', env });
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout.trim().split('\n')[0])).toMatchObject({ suite: 'ours', kind: 'env', error: expect.stringMatching(/cuda/) });
  });
  it.skipIf(!addonBuilt)('the bundle loads the addon that run.sh unpacked, through DL_NATIVE_PATH', () => {
    const unpacked = join(dir, 'dl-device-node', 'dl_native.node');
    const r = spawnSync(process.execPath, [join(bundle, 'bench-cuda.mjs'), '--device', 'cuda'], { encoding: 'utf8', env: { ...env, DL_NATIVE_PATH: unpacked } });
    expect(JSON.parse(r.stdout.trim().split('\n')[0])).toMatchObject({ addon: unpacked });
  });
});
