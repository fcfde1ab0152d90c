/**
 * CRC32C (Castagnoli), as TFRecord framing uses it, from the `crc-32` package (SheetJS), and
 * TensorFlow's masking of stored CRCs.
 */
// crc-32 is a CommonJS module whose functions the ESM loader cannot see as named exports: take
// the whole module object (the default import, in both the ESM and the CJS build). The `.js`
// extension is needed: the package has no exports map and Node's ESM resolver adds none.
import CRC32C from 'crc-32/crc32c.js';

/** CRC32C of `bytes`, as an unsigned 32-bit integer. */
export function crc32c(bytes: Uint8Array): number {
  return CRC32C.buf(bytes) >>> 0;
}

/**
 * The masked form stored in TFRecord files: rotate right by 15 bits and add 0xa282ead8
 * (mod 2^32), so a CRC of data that itself holds CRCs does not degenerate.
 */
export function maskCrc(crc: number): number {
  crc >>>= 0;
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/** maskCrc(crc32c(bytes)). */
export function maskedCrc32c(bytes: Uint8Array): number {
  return maskCrc(crc32c(bytes));
}
