/**
 * SummaryWriter (torch.utils.tensorboard.SummaryWriter): writes event files TensorBoard reads.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DLError, Tensor } from '@dl/tensor';
import { makeHistogram } from './histogram.js';
import type { HistogramBins } from './histogram.js';
import { gridPixels, imagePixels, makeImage } from './image.js';
import type { ImageFormat, ImagesFormat } from './image.js';
import { DT_STRING, SESSION_START, encodeEvent } from './proto.js';
import type { Summary, TensorBoardEvent } from './proto.js';
import { frameRecord } from './record.js';

export interface SummaryWriterOptions {
  /** Appended to the default logDir (ignored when a logDir is given). Default ''. */
  comment?: string;
  /**
   * Resume at this step after a crash: TensorBoard hides the events of an earlier run in the same
   * logDir whose step is >= purgeStep. Written once, as the file's first events.
   */
  purgeStep?: number;
  /** Events kept in memory before an add call writes them all to disk. Default 10. */
  maxQueue?: number;
  /** Seconds between automatic flushes of the pending events. Default 120. */
  flushSecs?: number;
  /** Appended to every event file name. Default ''. */
  filenameSuffix?: string;
}

/** Values for addHistogram: a tensor, or numbers (nested arrays are flattened). */
export type HistogramValues = Tensor | readonly unknown[] | Float32Array | Float64Array | Int32Array | Uint8Array;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => String(n).padStart(2, '0');

/** PyTorch's default logDir: runs/<Mon DD_HH-MM-SS>_<hostname><comment>, in local time. */
export function defaultLogDir(comment = '', now = new Date()): string {
  const stamp = `${MONTHS[now.getMonth()]}${pad2(now.getDate())}_${pad2(now.getHours())}-${pad2(now.getMinutes())}-${pad2(now.getSeconds())}`;
  return join('runs', `${stamp}_${hostname()}${comment}`);
}

/** Event file names made by this process so far (the <counter> part of the name). */
let fileCounter = 0;

/** Writers with pending events, flushed when the process exits (one listener for all of them). */
const openWriters = new Set<EventFileWriter>();
let exitHookInstalled = false;
function trackOpen(w: EventFileWriter): void {
  openWriters.add(w);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const writer of openWriters) {
        try {
          writer.flush();
        } catch {
          // nothing can be reported at exit
        }
      }
    });
  }
}

/**
 * One event file in one directory (PyTorch's FileWriter): framed records wait in a queue and are
 * appended, whole, with one write per flush.
 */
class EventFileWriter {
  readonly logDir: string;
  readonly path: string;
  private pending: Uint8Array[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    logDir: string,
    private readonly maxQueue: number,
    flushSecs: number,
    filenameSuffix: string,
  ) {
    this.logDir = logDir;
    mkdirSync(logDir, { recursive: true });
    const seconds = String(Math.floor(Date.now() / 1000)).padStart(10, '0');
    this.path = join(logDir, `events.out.tfevents.${seconds}.${hostname()}.${process.pid}.${fileCounter++}${filenameSuffix}`);
    // The header goes out at once: the file exists, and TensorBoard sees the run, from here on.
    appendFileSync(this.path, frameRecord(encodeEvent({ wallTime: Date.now() / 1000, step: 0, fileVersion: 'brain.Event:2' })));
    this.timer = setInterval(() => this.flush(), flushSecs * 1000);
    this.timer.unref();
    trackOpen(this);
  }

  add(event: TensorBoardEvent): void {
    this.pending.push(frameRecord(encodeEvent(event)));
    if (this.pending.length >= this.maxQueue) this.flush();
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const records = this.pending;
    const total = records.reduce((n, r) => n + r.length, 0);
    const buf = new Uint8Array(total);
    let off = 0;
    for (const r of records) {
      buf.set(r, off);
      off += r.length;
    }
    appendFileSync(this.path, buf);
    this.pending = [];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    openWriters.delete(this);
    this.flush();
  }
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Tensor) return `a tensor of shape [${v.shape.join(', ')}]`;
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return `an object (${(v as object).constructor?.name ?? 'Object'})`;
  return `${typeof v} ${String(v)}`;
}

/**
 * Writes TensorBoard event files into `logDir` (torch.utils.tensorboard.SummaryWriter, in
 * camelCase). Run `tensorboard --logdir runs` to look at them.
 *
 * ```ts
 * const writer = new SummaryWriter();            // runs/Nov28_14-05-31_myhost
 * for (let step = 0; step < 100; step++) writer.addScalar('Loss/train', loss, step);
 * writer.close();
 * ```
 */
export class SummaryWriter {
  /** The directory of the event file. */
  readonly logDir: string;
  private readonly maxQueue: number;
  private readonly flushSecs: number;
  private readonly filenameSuffix: string;
  private readonly fileWriter: EventFileWriter;
  /** addScalars' writers, by directory. */
  private readonly allWriters = new Map<string, EventFileWriter>();
  private closed = false;

  constructor(logDir?: string, opts: SummaryWriterOptions = {}) {
    const op = 'SummaryWriter';
    if (logDir !== undefined && (typeof logDir !== 'string' || logDir === '')) {
      throw new DLError('ARGUMENT', op, `logDir must be a non-empty string; got ${describe(logDir)}`, 'pass a directory such as "runs/exp1", or nothing for runs/<date>_<host>');
    }
    if (opts === null || typeof opts !== 'object') throw new DLError('ARGUMENT', op, `options must be an object; got ${describe(opts)}`);
    const { comment = '', purgeStep, maxQueue = 10, flushSecs = 120, filenameSuffix = '' } = opts;
    if (typeof comment !== 'string') throw new DLError('ARGUMENT', op, `comment must be a string; got ${describe(comment)}`);
    if (typeof filenameSuffix !== 'string') throw new DLError('ARGUMENT', op, `filenameSuffix must be a string; got ${describe(filenameSuffix)}`);
    if (!Number.isInteger(maxQueue) || maxQueue < 1) throw new DLError('ARGUMENT', op, `maxQueue must be a positive integer; got ${describe(maxQueue)}`, 'use 1 to write every event at once');
    if (typeof flushSecs !== 'number' || !(flushSecs > 0) || !Number.isFinite(flushSecs)) {
      throw new DLError('ARGUMENT', op, `flushSecs must be a positive number of seconds; got ${describe(flushSecs)}`);
    }
    if (purgeStep !== undefined) checkStep(op, purgeStep, 'purgeStep');
    this.logDir = logDir ?? defaultLogDir(comment);
    this.maxQueue = maxQueue;
    this.flushSecs = flushSecs;
    this.filenameSuffix = filenameSuffix;
    this.fileWriter = new EventFileWriter(this.logDir, maxQueue, flushSecs, filenameSuffix);
    if (purgeStep !== undefined) {
      const wallTime = Date.now() / 1000;
      this.fileWriter.add({ wallTime, step: purgeStep, fileVersion: 'brain.Event:2' });
      this.fileWriter.add({ wallTime, step: purgeStep, sessionLog: { status: SESSION_START } });
      this.fileWriter.flush();
    }
  }

  /** The path of the main event file. */
  get eventFile(): string {
    return this.fileWriter.path;
  }

  /** Whether close() was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  private open(op: string): void {
    if (this.closed) {
      throw new DLError('DISPOSED', `SummaryWriter.${op}`, `the writer of ${JSON.stringify(this.logDir)} is closed`, 'create a new SummaryWriter (it may use the same logDir) to write more');
    }
  }

  private addSummary(writer: EventFileWriter, op: string, summary: Summary, globalStep: number | undefined, walltime: number | undefined): void {
    const step = globalStep === undefined || globalStep === null ? 0 : checkStep(op, globalStep, 'globalStep');
    const wallTime = walltime === undefined || walltime === null ? Date.now() / 1000 : checkWalltime(op, walltime);
    writer.add({ wallTime, step, summary });
  }

  /** Log a scalar: a number or a one-element tensor (stored as float32, TensorBoard's simple_value). */
  addScalar(tag: string, scalarValue: number | Tensor, globalStep?: number, walltime?: number): void {
    const op = 'SummaryWriter.addScalar';
    this.open('addScalar');
    checkTag(op, tag);
    const value = scalarOf(op, scalarValue, 'scalarValue');
    this.addSummary(this.fileWriter, op, { value: [{ tag, simpleValue: value }] }, globalStep, walltime);
  }

  /**
   * Log several scalars in one chart: each name gets its own event file in
   * `<logDir>/<mainTag>_<name>` (slashes in mainTag become '_'), all with tag mainTag, so
   * TensorBoard draws them as runs of one chart.
   */
  addScalars(mainTag: string, tagScalarDict: Record<string, number | Tensor>, globalStep?: number, walltime?: number): void {
    const op = 'SummaryWriter.addScalars';
    this.open('addScalars');
    checkTag(op, mainTag, 'mainTag');
    if (tagScalarDict === null || typeof tagScalarDict !== 'object' || Array.isArray(tagScalarDict) || tagScalarDict instanceof Tensor) {
      throw new DLError('ARGUMENT', op, `tagScalarDict must be an object of name: value; got ${describe(tagScalarDict)}`, "pass e.g. { train: 0.5, val: 0.7 }");
    }
    const entries = Object.entries(tagScalarDict).map(([name, v]) => [name, scalarOf(op, v, `tagScalarDict[${JSON.stringify(name)}]`)] as const);
    const wallTime = walltime === undefined || walltime === null ? Date.now() / 1000 : checkWalltime(op, walltime);
    for (const [name, value] of entries) {
      const dir = join(this.logDir, `${mainTag.replaceAll('/', '_')}_${name}`);
      let writer = this.allWriters.get(dir);
      if (!writer) {
        writer = new EventFileWriter(dir, this.maxQueue, this.flushSecs, this.filenameSuffix);
        this.allWriters.set(dir, writer);
      }
      this.addSummary(writer, op, { value: [{ tag: mainTag, simpleValue: value }] }, globalStep, wallTime);
    }
  }

  /**
   * Log a histogram of the values. bins: 'tensorflow' (default: TensorBoard's exponential
   * buckets ±1e-12·1.1^k and 0), 'auto' (numpy's choice), a number of equal-width bins between
   * the min and the max, or explicit ascending edges. Only the range from the first to the last
   * non-empty bin is written (as PyTorch).
   */
  addHistogram(tag: string, values: HistogramValues, globalStep?: number, bins: HistogramBins = 'tensorflow', walltime?: number, maxBins?: number): void {
    const op = 'SummaryWriter.addHistogram';
    this.open('addHistogram');
    checkTag(op, tag);
    const histo = makeHistogram(op, valuesOf(op, values), bins, maxBins);
    this.addSummary(this.fileWriter, op, { value: [{ tag, histo }] }, globalStep, walltime);
  }

  /**
   * Log an image: a tensor in `dataformats` ('CHW' default, 'HWC' or 'HW'; 1, 3 or 4
   * channels). uint8 values are stored as they are; others are taken to be in [0, 1]: ×255,
   * clipped to [0, 255] and truncated to bytes (as PyTorch). Gray images are stored as RGB.
   */
  addImage(tag: string, imgTensor: Tensor, globalStep?: number, walltime?: number, dataformats: ImageFormat = 'CHW'): void {
    const op = 'SummaryWriter.addImage';
    this.open('addImage');
    checkTag(op, tag);
    const image = makeImage(imagePixels(op, imgTensor, dataformats));
    this.addSummary(this.fileWriter, op, { value: [{ tag, image }] }, globalStep, walltime);
  }

  /**
   * Log a batch of images as one grid image: `dataformats` 'NCHW' (default) or 'NHWC'; min(N, 8)
   * images per row, no padding (PyTorch's layout). Values as addImage.
   */
  addImages(tag: string, imgTensor: Tensor, globalStep?: number, walltime?: number, dataformats: ImagesFormat = 'NCHW'): void {
    const op = 'SummaryWriter.addImages';
    this.open('addImages');
    checkTag(op, tag);
    const image = makeImage(gridPixels(op, imgTensor, dataformats));
    this.addSummary(this.fileWriter, op, { value: [{ tag, image }] }, globalStep, walltime);
  }

  /** Log text (markdown) for the Text dashboard; the tag becomes `<tag>/text_summary` (as PyTorch). */
  addText(tag: string, textString: string, globalStep?: number, walltime?: number): void {
    const op = 'SummaryWriter.addText';
    this.open('addText');
    checkTag(op, tag);
    if (typeof textString !== 'string') throw new DLError('ARGUMENT', op, `textString must be a string; got ${describe(textString)}`, 'convert it first, e.g. JSON.stringify(obj) or String(x)');
    this.addSummary(
      this.fileWriter,
      op,
      {
        value: [
          {
            tag: `${tag}/text_summary`,
            metadata: { pluginData: { pluginName: 'text' } },
            tensor: { dtype: DT_STRING, tensorShape: { dim: [{ size: 1 }] }, stringVal: [new TextEncoder().encode(textString)] },
          },
        ],
      },
      globalStep,
      walltime,
    );
  }

  /** Write the pending events of every event file to disk. Nothing to do after close(). */
  flush(): void {
    if (this.closed) return;
    this.fileWriter.flush();
    for (const w of this.allWriters.values()) w.flush();
  }

  /** Flush and close every event file and stop the flush timers. Calling it again does nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fileWriter.close();
    for (const w of this.allWriters.values()) w.close();
  }
}

function checkTag(op: string, tag: unknown, name = 'tag'): asserts tag is string {
  if (typeof tag !== 'string' || tag === '') {
    throw new DLError('ARGUMENT', op, `${name} must be a non-empty string; got ${describe(tag)}`, "pass a name such as 'Loss/train' (slashes group charts)");
  }
}

function checkStep(op: string, step: unknown, name: string): number {
  if (typeof step !== 'number' || !Number.isSafeInteger(step)) {
    throw new DLError('ARGUMENT', op, `${name} must be an integer; got ${describe(step)}`, 'pass the iteration or epoch number (Math.floor it if it is computed)');
  }
  return step;
}

function checkWalltime(op: string, t: unknown): number {
  if (typeof t !== 'number' || !Number.isFinite(t)) {
    throw new DLError('ARGUMENT', op, `walltime must be a finite number of seconds since the epoch; got ${describe(t)}`, 'pass Date.now() / 1000, or leave it out');
  }
  return t;
}

function scalarOf(op: string, v: unknown, name: string): number {
  if (typeof v === 'number') return v;
  if (v instanceof Tensor) {
    if (v.numel !== 1) {
      throw new DLError('SHAPE', op, `${name} must be a number or a one-element tensor; got a tensor of shape [${v.shape.join(', ')}] (${v.numel} elements)`, 'reduce it first, e.g. loss.mean(), or log each element under its own tag');
    }
    return v.dataSync()[0];
  }
  throw new DLError('ARGUMENT', op, `${name} must be a number or a one-element tensor; got ${describe(v)}`, typeof v === 'bigint' ? 'convert it with Number(x)' : undefined);
}

function valuesOf(op: string, values: unknown): Float64Array {
  if (values instanceof Tensor) return Float64Array.from(values.dataSync());
  if (values instanceof Float32Array || values instanceof Float64Array || values instanceof Int32Array || values instanceof Uint8Array) return Float64Array.from(values);
  if (Array.isArray(values)) {
    const flat = values.flat(Infinity) as unknown[];
    const bad = flat.findIndex((x) => typeof x !== 'number');
    if (bad >= 0) throw new DLError('ARGUMENT', op, `values must be numbers; got ${describe(flat[bad])} at flat index ${bad}`);
    return Float64Array.from(flat as number[]);
  }
  throw new DLError('ARGUMENT', op, `values must be a tensor, an array of numbers or a typed array; got ${describe(values)}`);
}
