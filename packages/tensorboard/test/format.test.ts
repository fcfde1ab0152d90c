import { readFileSync, writeFileSync } from 'node:fs';
import { DLError } from '@dl/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { SummaryWriter, crc32c, decodeEvent, encodeEvent, frameRecord, maskCrc, maskedCrc32c, readEvents } from '../src/index.js';
import { crc32cBitwise, frameRef, lcg, tempDirs } from './helpers.js';

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

describe('CRC32C', () => {
  it('matches the RFC 3720 (B.4) known answers', () => {
    const zeros = new Uint8Array(32);
    const ones = new Uint8Array(32).fill(0xff);
    const inc = Uint8Array.from({ length: 32 }, (_, i) => i);
    const dec = Uint8Array.from({ length: 32 }, (_, i) => 31 - i);
    expect(crc32c(zeros)).toBe(0x8a9136aa);
    expect(crc32c(ones)).toBe(0x62a8ab43);
    expect(crc32c(inc)).toBe(0x46dd794e);
    expect(crc32c(dec)).toBe(0x113fdb5c);
    // the bitwise reference agrees on the same vectors
    expect([zeros, ones, inc].map(crc32cBitwise)).toEqual([0x8a9136aa, 0x62a8ab43, 0x46dd794e]);
  });

  it('"123456789" gives the standard check value, and agrees with a bitwise reference on random data', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    const rand = lcg(7);
    for (const n of [0, 1, 3, 15, 16, 17, 255, 1000]) {
      const bytes = Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
      expect(crc32c(bytes), `length ${n}`).toBe(crc32cBitwise(bytes));
    }
  });

  it('masks as ((crc >>> 15) | (crc << 17)) + 0xa282ead8 mod 2^32', () => {
    expect(maskCrc(0)).toBe(0xa282ead8);
    expect(maskCrc(0x00008000)).toBe(0xa282ead9); // bit 15 rotates down to bit 0
    expect(maskCrc(0x00000001)).toBe(0xa284ead8); // bit 0 rotates up to bit 17
    expect(maskCrc(0xffffffff)).toBe(0xa282ead7); // 0xffffffff + 0xa282ead8 wraps
    expect(maskedCrc32c(new Uint8Array(32))).toBe(maskCrc(0x8a9136aa));
  });
});

describe('record framing and the Event encoding', () => {
  it('one scalar event (tag "loss", 0.5, step 3, walltime 1024.5) has exactly the bytes worked out by hand', () => {
    // Event { wall_time (1, fixed64): 1024.5 = 2^10 * (1 + 2^-11) -> 0x4090020000000000,
    //         step (2, varint): 3, summary (5, len): Summary { value (1, len): Value {
    //         tag (1, len): "loss", simple_value (2, fixed32): 0.5 = 0x3f000000 } } }
    const value = [0x0a, 0x04, 0x6c, 0x6f, 0x73, 0x73, 0x15, 0x00, 0x00, 0x00, 0x3f];
    const summary = [0x0a, value.length, ...value];
    const event = [0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x90, 0x40, 0x10, 0x03, 0x2a, summary.length, ...summary];
    expect(event.length).toBe(26);
    const expected = frameRef(event);
    expect(expected.slice(0, 8)).toEqual([0x1a, 0, 0, 0, 0, 0, 0, 0]);

    expect([...encodeEvent({ wallTime: 1024.5, step: 3, summary: { value: [{ tag: 'loss', simpleValue: 0.5 }] } })]).toEqual(event);
    expect([...frameRecord(Uint8Array.from(event))]).toEqual(expected);

    // and the writer puts exactly these bytes after the file's header record
    const w = new SummaryWriter(tmp.make());
    w.addScalar('loss', 0.5, 3, 1024.5);
    w.close();
    const bytes = [...readFileSync(w.eventFile)];
    const headerLength = bytes[0] + 16;
    expect(bytes.slice(headerLength)).toEqual(expected);
  });

  it('the first record is the file version event', () => {
    const w = new SummaryWriter(tmp.make());
    w.close();
    const bytes = readFileSync(w.eventFile);
    // Event { wall_time (1, fixed64), file_version (3, len): "brain.Event:2" }
    const data = [...bytes.subarray(12, bytes.length - 4)];
    expect(data[0]).toBe(0x09);
    expect(data.slice(9)).toEqual([0x1a, 13, ...new TextEncoder().encode('brain.Event:2')]);
    expect([...bytes]).toEqual(frameRef(data));
    const [header] = readEvents(w.eventFile);
    expect(header.fileVersion).toBe('brain.Event:2');
    expect(header.step).toBe(0);
    expect(Math.abs(header.wallTime - Date.now() / 1000)).toBeLessThan(60);
  });

  it('simple_value 0 is written (a oneof member), proto3 defaults elsewhere are not', () => {
    // Value { tag "a", simple_value 0 } -> 0a 01 61 15 00 00 00 00; step 0 is left out
    expect([...encodeEvent({ wallTime: 1024.5, step: 0, summary: { value: [{ tag: 'a', simpleValue: 0 }] } })]).toEqual([
      0x09, 0, 0, 0, 0, 0, 0x02, 0x90, 0x40, 0x2a, 10, 0x0a, 8, 0x0a, 0x01, 0x61, 0x15, 0, 0, 0, 0,
    ]);
    // a negative step is a 10-byte varint (int64)
    const neg = encodeEvent({ wallTime: 0, step: -1 });
    expect([...neg]).toEqual([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(decodeEvent(neg).step).toBe(-1);
  });

  it('histogram, image and text values encode and decode back', () => {
    const png = Uint8Array.from([1, 2, 3]);
    const ev = {
      wallTime: 12.25,
      step: 2 ** 40,
      summary: {
        value: [
          { tag: 'h', histo: { min: -1, max: 2, num: 3, sum: 1.5, sumSquares: 5.25, bucketLimit: [-1, 0, 2], bucket: [0, 1, 2] } },
          { tag: 'i', image: { height: 2, width: 3, colorspace: 4, encodedImageString: png } },
          {
            tag: 't/text_summary',
            metadata: { pluginData: { pluginName: 'text' } },
            tensor: { dtype: 7, tensorShape: { dim: [{ size: 1 }] }, stringVal: [new TextEncoder().encode('hi')] },
          },
        ],
      },
    };
    expect(decodeEvent(encodeEvent(ev))).toEqual(ev);
  });

  it('the histogram arrays are packed (one length-delimited field each)', () => {
    const bytes = encodeEvent({ wallTime: 0, step: 0, summary: { value: [{ tag: 'h', histo: { min: 0, max: 0, num: 1, sum: 0, sumSquares: 0, bucketLimit: [1, 2], bucket: [0, 1] } }] } });
    // HistogramProto: num (3, fixed64) 1.0, bucket_limit (6, len 16), bucket (7, len 16)
    const histo = [0x19, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x32, 16, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x3a, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f];
    const value = [0x0a, 1, 0x68, 0x2a, histo.length, ...histo];
    expect([...bytes]).toEqual([0x2a, value.length + 2, 0x0a, value.length, ...value]);
  });
});

describe('readEvents on damaged files', () => {
  function twoRecordFile(): { path: string; bytes: Uint8Array; first: number } {
    const w = new SummaryWriter(tmp.make());
    w.addScalar('x', 1, 1, 100);
    w.close();
    const bytes = new Uint8Array(readFileSync(w.eventFile));
    return { path: w.eventFile, bytes, first: bytes[0] + 16 };
  }
  const errorOf = (fn: () => unknown): DLError => {
    try {
      fn();
    } catch (e) {
      return e as DLError;
    }
    throw new Error('expected an error');
  };

  it('a flipped data byte: data CRC mismatch at the record offset, naming the file', () => {
    const { path, bytes, first } = twoRecordFile();
    bytes[first + 14] ^= 0x01;
    writeFileSync(path, bytes);
    const e = errorOf(() => readEvents(path));
    expect(e).toBeInstanceOf(DLError);
    expect(e.code).toBe('IO');
    expect(e.message).toContain(path);
    expect(e.message).toContain(`data CRC mismatch in the record at byte offset ${first}`);
  });

  it('a damaged length: length CRC mismatch', () => {
    const { path, bytes, first } = twoRecordFile();
    bytes[first] += 1;
    writeFileSync(path, bytes);
    expect(() => readEvents(path)).toThrow(`length CRC mismatch in the record at byte offset ${first}`);
  });

  it('a cut-short file: truncated data, and a truncated header', () => {
    const { path, bytes, first } = twoRecordFile();
    writeFileSync(path, bytes.subarray(0, bytes.length - 1));
    expect(() => readEvents(path)).toThrow(`truncated data: the record needs ${bytes.length - first} bytes, ${bytes.length - first - 1} are left`);
    writeFileSync(path, bytes.subarray(0, first + 5));
    expect(() => readEvents(path)).toThrow(`truncated header: 5 bytes left, a record header needs 12 in the record at byte offset ${first}`);
    // intact records are read
    writeFileSync(path, bytes.subarray(0, first));
    expect(readEvents(path)).toHaveLength(1);
  });

  it('a record whose data is not an Event, and a missing file', () => {
    const dir = tmp.make();
    const path = `${dir}/events.out.tfevents.bad`;
    writeFileSync(path, frameRecord(Uint8Array.from([0x0a, 0x05, 0x01])));
    expect(() => readEvents(path)).toThrow(/byte offset 0 is not a valid Event/);
    expect(() => readEvents(`${dir}/nope`)).toThrow(/readEvents: cannot read .*nope/);
  });
});
