/** Reading event files back (what TensorBoard does), for tests and tools. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DLError } from '@dl/tensor';
import { decodeEvent } from './proto.js';
import type { TensorBoardEvent } from './proto.js';
import { parseRecords } from './record.js';

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Every event of an event file, in order, as plain objects. Both CRCs of every record are
 * checked; a corrupt or truncated record is a DLError (code 'IO') naming the file and the byte
 * offset of the record.
 */
export function readEvents(path: string): TensorBoardEvent[] {
  const op = 'readEvents';
  if (typeof path !== 'string' || path === '') throw new DLError('ARGUMENT', op, `path must be a file path; got ${JSON.stringify(path)}`);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new DLError('IO', op, `cannot read ${path}: ${reason(e)}`, 'pass the path of an events.out.tfevents.* file (listEventFiles(logDir) finds them)');
  }
  const out: TensorBoardEvent[] = [];
  let offset = 0;
  for (const data of parseRecords(bytes, path, op)) {
    try {
      out.push(decodeEvent(data));
    } catch (e) {
      throw new DLError('IO', op, `${path}: the record at byte offset ${offset} is not a valid Event: ${reason(e)}`, 'the file is not a TensorBoard event file, or was written by an incompatible writer');
    }
    offset += data.length + 16;
  }
  return out;
}

/** The event files (events.out.tfevents.*) directly in `logDir`, sorted by name. */
export function listEventFiles(logDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(logDir);
  } catch (e) {
    throw new DLError('IO', 'listEventFiles', `cannot list ${logDir}: ${reason(e)}`);
  }
  return names
    .filter((n) => n.startsWith('events.out.tfevents.'))
    .sort()
    .map((n) => join(logDir, n));
}
