/**
 * cifar-trainer: train, evaluate and serve a CIFAR-10 classifier with dl.
 *   cifar-trainer train [--recipe default|tutorial] [flags]
 *   cifar-trainer eval [--model-dir DIR]
 *   cifar-trainer predict IMAGE... [--model-dir DIR] [--top-k K]
 *   cifar-trainer serve [--model-dir DIR] [--port N]
 *   cifar-trainer doctor
 * Bad input ends with one line on stderr and exit code 1 (2 for usage errors).
 */
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { DLError, doctor } from '@dl/tensor';
import { AUGMENTS, DEVICES, MODEL_NAMES, OPTIMIZERS, RECIPES, SCHEDULERS, UsageError, nonNegative, oneOf, positiveInt, recipe } from './config.js';
import type { TrainConfig } from './config.js';
import { resolveDataDir } from './data-dir.js';
import { evaluate, formatConfusion } from './evaluate.js';
import { loadModel } from './artifacts.js';
import { loadCifar } from './data.js';
import { Classifier, predict } from './predict.js';
import { SERVE_DEFAULTS, serve, urlOf } from './serve.js';
import { requireDevice } from './setup.js';
import { train } from './train.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

function trainConfig(o: Record<string, string | boolean | undefined>): TrainConfig {
  const cfg = recipe(oneOf('--recipe', String(o.recipe ?? 'default'), RECIPES));
  /** Override cfg[key] with the parsed flag when it was given. */
  const flag = <K extends keyof TrainConfig>(key: K, name: string, parse: (flagName: string, v: string) => TrainConfig[K]) => {
    const v = o[key];
    if (v !== undefined) cfg[key] = parse(name, String(v));
  };
  flag('model', '--model', (f, v) => oneOf(f, v, MODEL_NAMES));
  flag('epochs', '--epochs', (f, v) => positiveInt(f, v));
  flag('batchSize', '--batch-size', (f, v) => positiveInt(f, v));
  flag('testBatchSize', '--test-batch-size', (f, v) => positiveInt(f, v));
  flag('optimizer', '--optimizer', (f, v) => oneOf(f, v, OPTIMIZERS));
  flag('lr', '--lr', (f, v) => nonNegative(f, v));
  flag('momentum', '--momentum', (f, v) => nonNegative(f, v, 1));
  flag('weightDecay', '--weight-decay', (f, v) => nonNegative(f, v));
  flag('scheduler', '--scheduler', (f, v) => oneOf(f, v, SCHEDULERS));
  flag('augment', '--augment', (f, v) => oneOf(f, v, AUGMENTS));
  flag('labelSmoothing', '--label-smoothing', (f, v) => nonNegative(f, v, 1));
  flag('workers', '--workers', (f, v) => positiveInt(f, v, 0));
  flag('seed', '--seed', (f, v) => positiveInt(f, v, 0));
  flag('limitTrain', '--limit-train', (f, v) => positiveInt(f, v, 0));
  flag('limitTest', '--limit-test', (f, v) => positiveInt(f, v, 0));
  flag('device', '--device', (f, v) => oneOf(f, v, DEVICES));
  if (o.nesterov !== undefined) cfg.nesterov = Boolean(o.nesterov);
  if (o.dropLast !== undefined) cfg.dropLast = Boolean(o.dropLast);
  if (o.nesterov === true && (cfg.optimizer !== 'sgd' || cfg.momentum === 0)) throw new UsageError('--nesterov needs --optimizer sgd with --momentum > 0');
  // Momentum settings of the recipe only apply to SGD.
  if (cfg.optimizer !== 'sgd' || cfg.momentum === 0) cfg.nesterov = false;
  return cfg;
}

export function program(): Command {
  const p = new Command('cifar-trainer').description('Train, evaluate and serve a CIFAR-10 classifier with dl').showSuggestionAfterError(true).exitOverride();
  const dataOption = () => new Option('--data-dir <dir>', 'CIFAR-10 location: the extracted cifar-10-batches-bin/ or the archive cifar-10-binary.tar.gz (default: $DL_CIFAR10_DIR, the shared dataset, or ./data with download)');

  p.command('train')
    .description('train a model; writes checkpoint, weights, metrics and an HTML report to --out-dir')
    .addOption(new Option('--recipe <name>', 'preset: default (a well-trained ConvNet) or tutorial (exactly PyTorch\'s tutorial)').choices(RECIPES).default('default'))
    .addOption(new Option('--model <name>', 'architecture').choices(MODEL_NAMES))
    .option('--epochs <n>', 'epochs')
    .option('--batch-size <n>', 'training batch size')
    .option('--drop-last', 'skip the last, smaller batch of each epoch (as drop_last=True)')
    .option('--test-batch-size <n>', 'evaluation batch size')
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(OPTIMIZERS))
    .option('--lr <x>', 'learning rate (the peak for onecycle)')
    .option('--momentum <x>', 'SGD momentum')
    .option('--nesterov', 'Nesterov momentum (SGD)')
    .option('--no-nesterov', 'plain momentum')
    .option('--weight-decay <x>', 'weight decay')
    .addOption(new Option('--scheduler <name>', 'learning-rate schedule').choices(SCHEDULERS))
    .addOption(new Option('--augment <name>', 'augmentation').choices(AUGMENTS))
    .option('--label-smoothing <x>', 'label smoothing in [0, 1]')
    .addOption(new Option('--device <device>', 'cpu or cuda').choices(DEVICES))
    .option('--workers <n>', 'data loader worker threads')
    .option('--seed <n>', 'random seed')
    .option('--limit-train <n>', 'use only the first N training images (0 = all)')
    .option('--limit-test <n>', 'use only the first N test images (0 = all)')
    .addOption(dataOption())
    .option('--out-dir <dir>', 'output directory', 'runs/cifar10')
    .option('--resume', 'continue the run checkpointed in --out-dir')
    .option('--tensorboard [dir]', 'also log to TensorBoard event files in dir (default: <out-dir>/tensorboard); view with: tensorboard --logdir <dir>')
    .action(async (o) => {
      const cfg = trainConfig(o);
      requireDevice(cfg.device);
      const dataDir = await resolveDataDir(o.dataDir, log);
      log(`training ${cfg.model} (recipe ${cfg.recipe}) for ${cfg.epochs} epochs on ${dataDir}`);
      const tensorboard = o.tensorboard === true ? join(o.outDir, 'tensorboard') : o.tensorboard;
      const r = await train(cfg, { dataDir, outDir: o.outDir, resume: Boolean(o.resume), tensorboard, log });
      if (r.interrupted) process.exitCode = 130;
    });

  p.command('eval')
    .description('evaluate a trained model on the CIFAR-10 test set: accuracy, per-class accuracy, confusion matrix')
    .option('--model-dir <dir>', 'directory with model.json and model.safetensors', 'runs/cifar10')
    .addOption(dataOption())
    .option('--batch-size <n>', 'batch size', '100')
    .option('--limit-test <n>', 'use only the first N test images (0 = all)', '0')
    .addOption(new Option('--device <device>', 'cpu or cuda').choices(DEVICES).default('cpu'))
    .action(async (o) => {
      const device = requireDevice(o.device);
      const { model, desc } = loadModel(o.modelDir);
      const test = loadCifar(await resolveDataDir(o.dataDir, log), false, positiveInt('--limit-test', o.limitTest, 0));
      const r = evaluate(model.to(device), test, { batchSize: positiveInt('--batch-size', o.batchSize), mean: desc.mean, std: desc.std, device });
      log(`accuracy: ${(100 * r.accuracy).toFixed(2)}% on ${r.count} test images (loss ${r.loss.toFixed(4)})`);
      log('per-class accuracy:');
      desc.classes.forEach((c, i) => {
        log(`  ${c.padEnd(12)} ${(100 * r.perClass[i]).toFixed(2)}%`);
      });
      log('confusion matrix:');
      log(formatConfusion(desc.classes, r.confusion));
    });

  p.command('predict')
    .description('top-k classes with probabilities for PNG/JPEG images')
    .argument('<images...>', 'image files')
    .option('--model-dir <dir>', 'directory with model.json and model.safetensors', 'runs/cifar10')
    .option('--top-k <k>', 'classes to show per image', '3')
    .addOption(new Option('--device <device>', 'cpu or cuda').choices(DEVICES).default('cpu'))
    .action((images: string[], o) => {
      const device = requireDevice(o.device);
      for (const r of predict(o.modelDir, images, positiveInt('--top-k', o.topK), device)) {
        log(`${r.file}: ${r.top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(', ')}`);
      }
    });
  p.command('serve')
    .description('serve predictions over HTTP: POST a PNG or JPEG to /predict for the top-k classes as JSON; GET /health')
    .option('--model-dir <dir>', 'directory with model.json and model.safetensors', 'runs/cifar10')
    .option('--host <host>', 'address to listen on (0.0.0.0: every interface)', SERVE_DEFAULTS.host)
    .option('--port <n>', 'port (0: any free one)', String(SERVE_DEFAULTS.port))
    .option('--top-k <k>', 'classes per answer unless the request asks ?k=', String(SERVE_DEFAULTS.topK))
    .option('--max-batch <n>', 'most images classified in one forward pass', String(SERVE_DEFAULTS.maxBatch))
    .option('--batch-wait-ms <ms>', 'how long a batch waits for more requests after its first (0: only those already waiting)', String(SERVE_DEFAULTS.batchWaitMs))
    .option('--max-bytes <n>', 'largest request body accepted', String(SERVE_DEFAULTS.maxBytes))
    .addOption(new Option('--device <device>', 'cpu or cuda').choices(DEVICES).default('cpu'))
    .action(async (o) => {
      const device = requireDevice(o.device);
      const port = positiveInt('--port', o.port, 0);
      if (port > 65535) throw new UsageError(`--port: expected an integer in [0, 65535]; got '${o.port}'`);
      const options = { host: o.host, port, topK: positiveInt('--top-k', o.topK), maxBatch: positiveInt('--max-batch', o.maxBatch), batchWaitMs: positiveInt('--batch-wait-ms', o.batchWaitMs, 0), maxBytes: positiveInt('--max-bytes', o.maxBytes) };
      const classifier = new Classifier(o.modelDir, device);
      const server = await serve(classifier, options);
      log(`serving ${classifier.desc.architecture} from ${o.modelDir} on ${device} at ${urlOf(server)}: POST an image to /predict, GET /health (Ctrl-C stops)`);
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          log(`${signal}: finishing the requests in flight, then stopping`);
          server.close(() => resolve());
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
  p.command('doctor')
    .description('what this machine offers: backends, CPU features in use, threads, the native addon, CUDA (driver, runtime, GPUs, cuBLAS), and fixes for what is missing')
    .action(() => {
      doctor({ print: true });
    });
  return p;
}

/** Run the CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    // Every failure is one line; the stack only on request (DL_DEBUG=1) or for internal errors.
    const message = e instanceof Error ? e.message : String(e);
    const oneLine = message.split('\n').map((l) => l.trim()).filter(Boolean).join('; ');
    process.stderr.write(`cifar-trainer: ${oneLine}\n`);
    const expected = e instanceof UsageError || e instanceof DLError;
    if (process.env.DL_DEBUG || !expected) process.stderr.write(`${e instanceof Error ? e.stack : ''}\n`);
    return 1;
  }
}

if (process.argv[1] && /cli\.(js|ts)$/.test(process.argv[1])) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
