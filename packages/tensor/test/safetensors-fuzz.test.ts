/**
 * Fuzzing the safetensors reader: random bytes and mutations of a valid file
 * must either decode to tensors consistent with their shapes or raise DLError
 * code 'IO'; never another exception, never a hang.
 */
import { describe, expect, it } from 'vitest';
import { DLError, decodeSafetensors, decodeState, encodeSafetensors, encodeState, tensor, zeros } from '../src/index.js';

/** mulberry32: a small seeded PRNG, so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Outcome = 'ok' | 'io';

interface Stats {
  ok: number;
  io: number;
}

/** Decode and check the result is self-consistent; any error must be DLError 'IO'. */
function probe(bytes: Uint8Array, label: string): Outcome {
  let result: ReturnType<typeof decodeSafetensors>;
  try {
    result = decodeSafetensors(bytes);
  } catch (e) {
    if (!(e instanceof DLError) || e.code !== 'IO') {
      throw new Error(`${label}: expected DLError code 'IO', got ${e instanceof Error ? `${e.name} (${(e as DLError).code ?? ''}): ${e.message}` : String(e)}`);
    }
    if (!/^decodeSafetensors: .+; got .+, expected /s.test(e.message)) throw new Error(`${label}: badly formed message: ${e.message}`);
    return 'io';
  }
  for (const [name, t] of Object.entries(result.tensors)) {
    const where = `${label}: tensor '${name}'`;
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`${where}: bad shape ${t.shape}`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.numel !== n) throw new Error(`${where}: numel ${t.numel} != ${n}`);
    if (t.dataSync().length !== n) throw new Error(`${where}: ${t.dataSync().length} values for shape [${t.shape}]`);
    t.dispose();
  }
  for (const v of Object.values(result.metadata)) if (typeof v !== 'string') throw new Error(`${label}: metadata value ${String(v)}`);
  return 'ok';
}

function count(stats: Stats, o: Outcome): void {
  stats[o]++;
}

/** A valid file with every dtype we write plus hand-made F16/BF16/I64 entries. */
function validFile(): Uint8Array {
  const base = encodeSafetensors(
    {
      w: tensor([[1, -2, 3], [4.5, 5, -6]]),
      d: tensor(new Float64Array([Math.PI, -0])),
      i: tensor(new Int32Array([7, -8, 9])),
      u: tensor(new Uint8Array([0, 255])),
      b: tensor([true, false, true]),
      s: tensor(1.25),
      e: zeros([0, 2]),
    },
    { format: 'pt', k: 'v' },
  );
  const n = Number(new DataView(base.buffer).getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(base.subarray(8, 8 + n)).toString());
  const data = Array.from(base.subarray(8 + n));
  const extra: [string, string, number[], number[]][] = [
    ['half', 'F16', [2], [0x00, 0x3c, 0x00, 0xc1]],
    ['brain', 'BF16', [2], [0x80, 0x3f, 0x40, 0xc0]],
    ['long', 'I64', [2], [5, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
  ];
  for (const [name, dtype, shape, bytes] of extra) {
    header[name] = { dtype, shape, data_offsets: [data.length, data.length + bytes.length] };
    data.push(...bytes);
  }
  return assemble(JSON.stringify(header), Uint8Array.from(data));
}

function assemble(json: string, data: Uint8Array, pad = true, length?: bigint): Uint8Array {
  let h = Buffer.from(json, 'utf8');
  if (pad) h = Buffer.concat([h, Buffer.alloc((8 - (h.length % 8)) % 8, 0x20)]);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function split(file: Uint8Array): { header: Record<string, Record<string, unknown>>; data: Uint8Array } {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(Buffer.from(file.subarray(8, 8 + n)).toString()), data: file.subarray(8 + n) };
}

describe('safetensors reader fuzzing', () => {
  it('random byte strings', () => {
    const rand = rng(0x5afe);
    const int = (n: number) => Math.floor(rand() * n);
    const stats: Stats = { ok: 0, io: 0 };
    const start = performance.now();
    for (let iter = 0; iter < 2000; iter++) {
      const len = int(4) === 0 ? int(8) : int(96);
      const bytes = new Uint8Array(len);
      for (let i = 0; i < len; i++) bytes[i] = int(256);
      if (len >= 8 && int(2) === 0) {
        // A plausible header length, so the JSON parser sees the rest.
        new DataView(bytes.buffer).setBigUint64(0, BigInt(int(len - 7)), true);
        if (len > 8 && int(2) === 0) bytes[8] = 0x7b; // '{'
      }
      count(stats, probe(bytes, `random #${iter}`));
    }
    expect(stats.io).toBeGreaterThan(1900);
    expect(performance.now() - start).toBeLessThan(10_000);
  });

  it('mutations of a valid file', () => {
    const valid = validFile();
    expect(probe(valid, 'valid')).toBe('ok');
    const { header: validHeader, data: validData } = split(valid);
    const names = Object.keys(validHeader).filter((k) => k !== '__metadata__');
    const rand = rng(0xc0ffee);
    const int = (n: number) => Math.floor(rand() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
    const weird: unknown[] = [-1, 0, 1, 1.5, 2 ** 31, 2 ** 53, 2 ** 64, -(2 ** 53), 1e308, Number.MAX_SAFE_INTEGER, null, true, '4', [], {}, [1, 2], 'F32'];
    const dtypes = ['F32', 'F64', 'I32', 'U8', 'BOOL', 'F16', 'BF16', 'I64', 'U64', 'I8', 'I16', 'U16', 'U32', 'F8_E4M3', 'Q4', '', 'f32'];

    const jsonEdit = (): Uint8Array => {
      const header = structuredClone(validHeader);
      const name = pick(names);
      const entry = header[name];
      const offsets = entry.data_offsets as number[];
      const shape = entry.shape as number[];
      switch (int(14)) {
        case 0: entry.data_offsets = [offsets[1], offsets[0]]; break; // swapped
        case 1: entry.shape = [2 ** 26, 2 ** 26, 2 ** 26]; break; // huge
        case 2: entry.shape = shape.length ? shape.map((d, i) => (i === 0 ? -d - 1 : d)) : [-1]; break; // negative
        case 3: entry.dtype = pick(dtypes); break;
        case 4: delete entry[pick(['dtype', 'shape', 'data_offsets'])]; break;
        case 5: entry.shape = [...shape, pick(weird)]; break;
        case 6: entry.data_offsets = [pick(weird), pick(weird)]; break;
        case 7: entry.data_offsets = [offsets[0] + int(9) - 4, offsets[1] + int(9) - 4]; break;
        case 8: { // two entries point at the same bytes
          const other = header[pick(names)];
          entry.data_offsets = other.data_offsets;
          entry.shape = other.shape;
          entry.dtype = other.dtype;
          break;
        }
        case 9: header[pick(['__proto__', 'constructor', '__metadata__', 'x'])] = structuredClone(entry); break;
        case 10: header.__metadata__ = pick([{ a: 1 }, [], 'm', null, { ok: 'yes' }, { __proto__: 'x' }]) as Record<string, unknown>; break;
        case 11: header[name] = pick(weird) as Record<string, unknown>; break;
        case 12: entry.shape = shape.length ? shape.slice(1) : [1, 1]; break;
        default: entry.shape = pick([[], [0], [1e300], [2 ** 53 + 2, 0], new Array(70).fill(1)]); break;
      }
      let json = JSON.stringify(header);
      if (int(4) === 0) json = json.replace('{', `{${' '.repeat(int(5))}`).replace(/,/, pick([',', ',,', ', ', '']));
      let data: Uint8Array = validData;
      if (int(4) === 0) data = validData.subarray(0, int(validData.length + 1));
      return assemble(json, data, int(4) !== 0);
    };

    const mutate = (): Uint8Array => {
      const bytes = valid.slice();
      switch (int(6)) {
        case 0: { // random byte flips
          for (let k = 1 + int(4); k > 0; k--) bytes[int(bytes.length)] ^= 1 << int(8);
          return bytes;
        }
        case 1: // truncation
          return bytes.subarray(0, int(bytes.length));
        case 2: { // header length changes
          const dv = new DataView(bytes.buffer);
          const n = dv.getBigUint64(0, true);
          const choice = int(4);
          const next = choice === 0 ? n + BigInt(int(17)) - 8n : choice === 1 ? BigInt(int(2 ** 31)) : choice === 2 ? 2n ** 64n - 1n - BigInt(int(3)) : 0n;
          dv.setBigUint64(0, next < 0n ? 0n : next, true);
          return bytes;
        }
        case 3: { // trailing junk
          const out = new Uint8Array(bytes.length + 1 + int(16));
          out.set(bytes);
          return out;
        }
        case 4: { // a byte inside the header JSON set to a structural character
          const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
          bytes[8 + int(n)] = pick([0x22, 0x2c, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x30, 0x2d, 0x39, 0x00, 0xff]);
          return bytes;
        }
        default:
          return jsonEdit();
      }
    };

    const stats: Stats = { ok: 0, io: 0 };
    const start = performance.now();
    for (let iter = 0; iter < 2000; iter++) count(stats, probe(mutate(), `mutation #${iter}`));
    // Most mutations are caught, and some (harmless ones) still decode.
    expect(stats.io).toBeGreaterThan(1000);
    expect(stats.ok).toBeGreaterThan(10);
    expect(performance.now() - start).toBeLessThan(10_000);
  });

  it('mutated checkpoints: decodeState fails with IO or rebuilds', () => {
    const valid = encodeState({ model: { w: tensor([1, 2]), b: tensor([3]) }, epoch: 2, nan: Number.NaN, rng: new Uint32Array([1, 2]) });
    const rand = rng(7);
    const int = (n: number) => Math.floor(rand() * n);
    for (let iter = 0; iter < 500; iter++) {
      const bytes = valid.slice();
      for (let k = 1 + int(3); k > 0; k--) bytes[int(bytes.length)] = int(256);
      try {
        decodeState(bytes);
      } catch (e) {
        if (!(e instanceof DLError) || e.code !== 'IO') throw new Error(`state mutation #${iter}: ${String(e)}`);
      }
    }
  });
});
