/** The CLI's edges: reading a file or stdin (bounded), and errors shown as one line. */
import { closeSync, openSync, readSync } from 'node:fs';
import { BeaconError } from '../src/protocol/errors.js';

/** A mistake in how the command was called: usage text, exit 2. */
export class UsageError extends Error {}

/**
 * Reads `path` (or stdin for `-`), at most `limit` bytes plus one, so an oversized input
 * is noticed without reading all of it. Returns the bytes read.
 */
export async function readInput(path: string, limit: number, what: string): Promise<Buffer> {
  if (path === '-') return readStdin(limit);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new BeaconError('io_error', `cannot read ${what} ${path}: ${describeFsError(e)}`);
  }
  try {
    const buf = Buffer.alloc(limit + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0 || (n += r) === buf.length) break;
    }
    return buf.subarray(0, n);
  } catch (e) {
    throw new BeaconError('io_error', `cannot read ${what} ${path}: ${describeFsError(e)}`);
  } finally {
    closeSync(fd);
  }
}

async function readStdin(limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    n += (chunk as Buffer).length;
    if (n > limit) break;
  }
  return Buffer.concat(chunks).subarray(0, limit + 1);
}

/** Parses a JSON file of exact values; anything else is a one-line `bad_values` error. */
export async function readJsonInput(path: string, limit: number, what: string): Promise<unknown> {
  const bytes = await readInput(path, limit, what);
  const name = path === '-' ? 'stdin' : path;
  if (bytes.length > limit) throw new BeaconError('bad_values', `${what} ${name} is over ${limit} bytes`);
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new BeaconError('bad_values', `${what} ${name} is not valid JSON: ${(e as Error).message}`);
  }
}

export function describeFsError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'ENOTDIR' || code === 'EEXIST') return 'a parent of it is not a directory';
  return code ?? String((e as Error)?.message ?? e);
}

