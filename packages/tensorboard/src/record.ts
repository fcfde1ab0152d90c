/**
 * TFRecord framing of event files: each record is
 *
 *   uint64 LE  length of data
 *   uint32 LE  masked crc32c of those 8 length bytes
 *   data       (a serialized Event)
 *   uint32 LE  masked crc32c of data
 */
import { DLError } from '@dl/tensor';
import { maskedCrc32c } from './crc.js';

/** Bytes of the header and footer around each record's data. */
export const RECORD_OVERHEAD = 16;

/** One framed record holding `data`. */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + RECORD_OVERHEAD);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/**
 * The data of every record in `bytes` (the content of the file `file`, named in errors), after
 * checking both CRCs of each. A corrupt or truncated record is an error naming the file and the
 * byte offset where the record starts.
 */
export function parseRecords(bytes: Uint8Array, file: string, op = 'readEvents'): Uint8Array[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  const corrupt = (offset: number, what: string): never => {
    throw new DLError(
      'IO',
      op,
      `${file}: ${what} in the record at byte offset ${offset} (file size ${bytes.length})`,
      'the event file is corrupt or was cut short (a writer still running or killed mid-write); records before this offset are intact',
    );
  };
  let off = 0;
  while (off < bytes.length) {
    if (bytes.length - off < 12) corrupt(off, `truncated header: ${bytes.length - off} bytes left, a record header needs 12`);
    const length = view.getBigUint64(off, true);
    const lengthCrc = view.getUint32(off + 8, true);
    if (maskedCrc32c(bytes.subarray(off, off + 8)) !== lengthCrc) corrupt(off, 'length CRC mismatch');
    const end = BigInt(off) + 12n + length + 4n;
    if (end > BigInt(bytes.length)) corrupt(off, `truncated data: the record needs ${length + 16n} bytes, ${bytes.length - off} are left`);
    const n = Number(length);
    const data = bytes.subarray(off + 12, off + 12 + n);
    if (maskedCrc32c(data) !== view.getUint32(off + 12 + n, true)) corrupt(off, 'data CRC mismatch');
    records.push(data);
    off += 16 + n;
  }
  return records;
}
