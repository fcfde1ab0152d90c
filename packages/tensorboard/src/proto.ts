/**
 * The protocol buffer messages of TensorBoard event files (tensorboard/compat/proto: event,
 * summary, histogram, tensor, tensor_shape), as plain objects, with their binary encoding and
 * decoding through @bufbuild/protobuf's wire BinaryWriter/BinaryReader (no generated code).
 *
 * Encoding follows proto3: singular scalar fields at their default (0, '', empty bytes) are not
 * written, except members of a oneof (Event.file_version / summary / session_log and
 * Summary.Value.simple_value / image / histo / tensor), which are written whenever set. Fields
 * are written in field-number order, as protobuf's own serializers do.
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

/** HistogramProto: bucket[i] counts values in (bucketLimit[i - 1], bucketLimit[i]]. */
export interface HistogramProto {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  bucketLimit: number[];
  bucket: number[];
}

/** Summary.Image: colorspace 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; encodedImageString is the PNG file. */
export interface ImageProto {
  height: number;
  width: number;
  colorspace: number;
  encodedImageString: Uint8Array;
}

export interface TensorShapeDim {
  size: number;
  name?: string;
}

/** TensorProto (the fields used by TensorBoard's plugins; others are skipped when read). */
export interface TensorProto {
  /** DataType enum: 1 DT_FLOAT, 2 DT_DOUBLE, 3 DT_INT32, 7 DT_STRING, ... */
  dtype: number;
  tensorShape?: { dim: TensorShapeDim[] };
  tensorContent?: Uint8Array;
  floatVal?: number[];
  doubleVal?: number[];
  intVal?: number[];
  stringVal?: Uint8Array[];
}

export interface PluginData {
  pluginName: string;
  content?: Uint8Array;
}

export interface SummaryMetadata {
  pluginData?: PluginData;
  displayName?: string;
  summaryDescription?: string;
  dataClass?: number;
}

export interface SummaryValue {
  tag: string;
  simpleValue?: number;
  image?: ImageProto;
  histo?: HistogramProto;
  tensor?: TensorProto;
  metadata?: SummaryMetadata;
}

export interface Summary {
  value: SummaryValue[];
}

/** SessionLog: status 1 START, 2 STOP, 3 CHECKPOINT. */
export interface SessionLog {
  status: number;
  checkpointPath?: string;
  msg?: string;
}

/** One Event of an event file. */
export interface TensorBoardEvent {
  /** Seconds since the epoch. */
  wallTime: number;
  step: number;
  fileVersion?: string;
  summary?: Summary;
  sessionLog?: SessionLog;
}

export const DT_FLOAT = 1;
export const DT_DOUBLE = 2;
export const DT_INT32 = 3;
export const DT_STRING = 7;
export const SESSION_START = 1;

// ------------------------------------------------------------------------------------ encoding

const LEN = WireType.LengthDelimited;

function message(w: BinaryWriter, field: number, body: (w: BinaryWriter) => void): void {
  w.tag(field, LEN).fork();
  body(w);
  w.join();
}

function packedDoubles(w: BinaryWriter, field: number, values: readonly number[]): void {
  if (values.length === 0) return;
  w.tag(field, LEN).fork();
  for (const v of values) w.double(v);
  w.join();
}

function writeHistogram(w: BinaryWriter, h: HistogramProto): void {
  if (h.min !== 0) w.tag(1, WireType.Bit64).double(h.min);
  if (h.max !== 0) w.tag(2, WireType.Bit64).double(h.max);
  if (h.num !== 0) w.tag(3, WireType.Bit64).double(h.num);
  if (h.sum !== 0) w.tag(4, WireType.Bit64).double(h.sum);
  if (h.sumSquares !== 0) w.tag(5, WireType.Bit64).double(h.sumSquares);
  packedDoubles(w, 6, h.bucketLimit);
  packedDoubles(w, 7, h.bucket);
}

function writeImage(w: BinaryWriter, img: ImageProto): void {
  if (img.height !== 0) w.tag(1, WireType.Varint).int32(img.height);
  if (img.width !== 0) w.tag(2, WireType.Varint).int32(img.width);
  if (img.colorspace !== 0) w.tag(3, WireType.Varint).int32(img.colorspace);
  if (img.encodedImageString.length) w.tag(4, LEN).bytes(img.encodedImageString);
}

function writeTensor(w: BinaryWriter, t: TensorProto): void {
  if (t.dtype !== 0) w.tag(1, WireType.Varint).int32(t.dtype);
  if (t.tensorShape) {
    const shape = t.tensorShape;
    message(w, 2, (w) => {
      for (const d of shape.dim) {
        message(w, 2, (w) => {
          if (d.size !== 0) w.tag(1, WireType.Varint).int64(d.size);
          if (d.name) w.tag(2, LEN).string(d.name);
        });
      }
    });
  }
  if (t.tensorContent?.length) w.tag(4, LEN).bytes(t.tensorContent);
  if (t.floatVal?.length) {
    w.tag(5, LEN).fork();
    for (const v of t.floatVal) w.float(v);
    w.join();
  }
  packedDoubles(w, 6, t.doubleVal ?? []);
  if (t.intVal?.length) {
    w.tag(7, LEN).fork();
    for (const v of t.intVal) w.int32(v);
    w.join();
  }
  for (const s of t.stringVal ?? []) w.tag(8, LEN).bytes(s);
}

function writeMetadata(w: BinaryWriter, m: SummaryMetadata): void {
  if (m.pluginData) {
    const p = m.pluginData;
    message(w, 1, (w) => {
      if (p.pluginName) w.tag(1, LEN).string(p.pluginName);
      if (p.content?.length) w.tag(2, LEN).bytes(p.content);
    });
  }
  if (m.displayName) w.tag(2, LEN).string(m.displayName);
  if (m.summaryDescription) w.tag(3, LEN).string(m.summaryDescription);
  if (m.dataClass) w.tag(4, WireType.Varint).int32(m.dataClass);
}

function writeValue(w: BinaryWriter, v: SummaryValue): void {
  if (v.tag) w.tag(1, LEN).string(v.tag);
  if (v.simpleValue !== undefined) w.tag(2, WireType.Bit32).float(v.simpleValue);
  if (v.image) {
    const img = v.image;
    message(w, 4, (w) => writeImage(w, img));
  }
  if (v.histo) {
    const h = v.histo;
    message(w, 5, (w) => writeHistogram(w, h));
  }
  if (v.tensor) {
    const t = v.tensor;
    message(w, 8, (w) => writeTensor(w, t));
  }
  if (v.metadata) {
    const m = v.metadata;
    message(w, 9, (w) => writeMetadata(w, m));
  }
}

/** The serialized Event. */
export function encodeEvent(e: TensorBoardEvent): Uint8Array {
  const w = new BinaryWriter();
  if (e.wallTime !== 0) w.tag(1, WireType.Bit64).double(e.wallTime);
  if (e.step !== 0) w.tag(2, WireType.Varint).int64(e.step);
  if (e.fileVersion !== undefined) w.tag(3, LEN).string(e.fileVersion);
  if (e.summary) {
    const s = e.summary;
    message(w, 5, (w) => {
      for (const v of s.value) message(w, 1, (w) => writeValue(w, v));
    });
  }
  if (e.sessionLog) {
    const log = e.sessionLog;
    message(w, 7, (w) => {
      if (log.status !== 0) w.tag(1, WireType.Varint).int32(log.status);
      if (log.checkpointPath) w.tag(2, LEN).string(log.checkpointPath);
      if (log.msg) w.tag(3, LEN).string(log.msg);
    });
  }
  return w.finish();
}

// ------------------------------------------------------------------------------------ decoding

/** Read the fields of one message: `field` is called per field and returns false for unknown ones (skipped). */
function readMessage(bytes: Uint8Array, field: (r: BinaryReader, no: number, wire: WireType) => boolean): void {
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, wire] = r.tag();
    if (!field(r, no, wire)) r.skip(wire, no);
  }
}

function toNumber(v: bigint | string): number {
  return Number(v);
}

/** A repeated numeric field, packed (one length-delimited run) or not (one value per tag). */
function readRepeated(r: BinaryReader, wire: WireType, out: number[], one: (r: BinaryReader) => number): void {
  if (wire === LEN) {
    const sub = new BinaryReader(r.bytes());
    while (sub.pos < sub.len) out.push(one(sub));
  } else {
    out.push(one(r));
  }
}

function readHistogram(bytes: Uint8Array): HistogramProto {
  const h: HistogramProto = { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [], bucket: [] };
  readMessage(bytes, (r, no, wire) => {
    if (no === 1 && wire === WireType.Bit64) h.min = r.double();
    else if (no === 2 && wire === WireType.Bit64) h.max = r.double();
    else if (no === 3 && wire === WireType.Bit64) h.num = r.double();
    else if (no === 4 && wire === WireType.Bit64) h.sum = r.double();
    else if (no === 5 && wire === WireType.Bit64) h.sumSquares = r.double();
    else if (no === 6) readRepeated(r, wire, h.bucketLimit, (r) => r.double());
    else if (no === 7) readRepeated(r, wire, h.bucket, (r) => r.double());
    else return false;
    return true;
  });
  return h;
}

function readImage(bytes: Uint8Array): ImageProto {
  const img: ImageProto = { height: 0, width: 0, colorspace: 0, encodedImageString: new Uint8Array(0) };
  readMessage(bytes, (r, no, wire) => {
    if (no === 1 && wire === WireType.Varint) img.height = r.int32();
    else if (no === 2 && wire === WireType.Varint) img.width = r.int32();
    else if (no === 3 && wire === WireType.Varint) img.colorspace = r.int32();
    else if (no === 4 && wire === LEN) img.encodedImageString = r.bytes().slice();
    else return false;
    return true;
  });
  return img;
}

function readTensor(bytes: Uint8Array): TensorProto {
  const t: TensorProto = { dtype: 0 };
  readMessage(bytes, (r, no, wire) => {
    if (no === 1 && wire === WireType.Varint) t.dtype = r.int32();
    else if (no === 2 && wire === LEN) {
      const dim: TensorShapeDim[] = [];
      readMessage(r.bytes(), (r, no, wire) => {
        if (no !== 2 || wire !== LEN) return false;
        const d: TensorShapeDim = { size: 0 };
        readMessage(r.bytes(), (r, no, wire) => {
          if (no === 1 && wire === WireType.Varint) d.size = toNumber(r.int64());
          else if (no === 2 && wire === LEN) d.name = r.string();
          else return false;
          return true;
        });
        dim.push(d);
        return true;
      });
      t.tensorShape = { dim };
    } else if (no === 4 && wire === LEN) t.tensorContent = r.bytes().slice();
    else if (no === 5) {
      t.floatVal = t.floatVal ?? [];
      readRepeated(r, wire, t.floatVal, (r) => r.float());
    } else if (no === 6) {
      t.doubleVal = t.doubleVal ?? [];
      readRepeated(r, wire, t.doubleVal, (r) => r.double());
    } else if (no === 7) {
      t.intVal = t.intVal ?? [];
      readRepeated(r, wire, t.intVal, (r) => r.int32());
    } else if (no === 8 && wire === LEN) {
      t.stringVal = t.stringVal ?? [];
      t.stringVal.push(r.bytes().slice());
    } else return false;
    return true;
  });
  return t;
}

function readMetadata(bytes: Uint8Array): SummaryMetadata {
  const m: SummaryMetadata = {};
  readMessage(bytes, (r, no, wire) => {
    if (no === 1 && wire === LEN) {
      const p: PluginData = { pluginName: '' };
      readMessage(r.bytes(), (r, no, wire) => {
        if (no === 1 && wire === LEN) p.pluginName = r.string();
        else if (no === 2 && wire === LEN) p.content = r.bytes().slice();
        else return false;
        return true;
      });
      m.pluginData = p;
    } else if (no === 2 && wire === LEN) m.displayName = r.string();
    else if (no === 3 && wire === LEN) m.summaryDescription = r.string();
    else if (no === 4 && wire === WireType.Varint) m.dataClass = r.int32();
    else return false;
    return true;
  });
  return m;
}

function readValue(bytes: Uint8Array): SummaryValue {
  const v: SummaryValue = { tag: '' };
  readMessage(bytes, (r, no, wire) => {
    if (no === 1 && wire === LEN) v.tag = r.string();
    else if (no === 2 && wire === WireType.Bit32) v.simpleValue = r.float();
    else if (no === 4 && wire === LEN) v.image = readImage(r.bytes());
    else if (no === 5 && wire === LEN) v.histo = readHistogram(r.bytes());
    else if (no === 8 && wire === LEN) v.tensor = readTensor(r.bytes());
    else if (no === 9 && wire === LEN) v.metadata = readMetadata(r.bytes());
    else return false;
    return true;
  });
  return v;
}

/** Decode a serialized Event (unknown fields are skipped; a malformed message throws). */
export function decodeEvent(bytes: Uint8Array): TensorBoardEvent {
  const e: TensorBoardEvent = { wallTime: 0, step: 0 };
  readMessage(bytes, (r, no, wire) => {
    if (no === 1 && wire === WireType.Bit64) e.wallTime = r.double();
    else if (no === 2 && wire === WireType.Varint) e.step = toNumber(r.int64());
    else if (no === 3 && wire === LEN) e.fileVersion = r.string();
    else if (no === 5 && wire === LEN) {
      const summary: Summary = { value: [] };
      readMessage(r.bytes(), (r, no, wire) => {
        if (no !== 1 || wire !== LEN) return false;
        summary.value.push(readValue(r.bytes()));
        return true;
      });
      e.summary = summary;
    } else if (no === 7 && wire === LEN) {
      const log: SessionLog = { status: 0 };
      readMessage(r.bytes(), (r, no, wire) => {
        if (no === 1 && wire === WireType.Varint) log.status = r.int32();
        else if (no === 2 && wire === LEN) log.checkpointPath = r.string();
        else if (no === 3 && wire === LEN) log.msg = r.string();
        else return false;
        return true;
      });
      e.sessionLog = log;
    } else return false;
    return true;
  });
  return e;
}
