import { randomFillSync } from 'node:crypto';

/**
 * Random hex for ids (`msg_…`, `toolu_…`), drawn from a pool filled 4 KiB at a time, as Node's
 * randomUUID does: crypto.randomBytes(12) per id is a call into OpenSSL each time, which showed at
 * 1–4 % of the gateway's CPU on translated Messages streams. Same generator (the CSPRNG), same
 * output format; ids are names, not secrets.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

export function randomHex(bytes: number): string {
  if (bytes > POOL_BYTES) return randomFillSync(Buffer.allocUnsafe(bytes)).toString('hex');
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}
