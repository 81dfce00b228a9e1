/**
 * The installation's identity on disk: an Ed25519 key as PKCS#8 PEM (so OpenSSL and
 * other tools can read it), mode 0600, and a sequence counter beside it that never
 * goes backwards across restarts.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { BeaconError } from './protocol/errors.js';
import { generateKeyPair, keyPairFromSeed, type KeyPair } from './protocol/envelope.js';

// DER prefix of a PKCS#8 Ed25519 private key (RFC 8410 §7); the 32-byte seed follows.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function keyToPem(keys: KeyPair): string {
  const der = Buffer.concat([PKCS8_PREFIX, Buffer.from(keys.seed)]).toString('base64');
  return `-----BEGIN PRIVATE KEY-----\n${der}\n-----END PRIVATE KEY-----\n`;
}

export function keyFromPem(pem: string, path = 'key file'): KeyPair {
  const m = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(pem);
  const der = m ? Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64') : Buffer.alloc(0);
  if (der.length !== 48 || !der.subarray(0, 16).equals(PKCS8_PREFIX))
    throw new BeaconError('bad_key', `${path} is not a PKCS#8 Ed25519 private key (PEM)`);
  return keyPairFromSeed(new Uint8Array(der.subarray(16)));
}

/** Writes a file atomically (temp file, fsync, rename) with the given mode. */
export function writeFileDurable(path: string, data: string | Uint8Array, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // fsync the directory too, or a power loss can forget the rename (and bring back an old seq).
  try {
    const dfd = openSync(dirname(path), 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch {
    /* some filesystems refuse fsync on a directory; the file itself is durable */
  }
}

/** Reads a key file, refusing one that group or others can read. */
export function readKeyFile(path: string): KeyPair {
  const st = statSync(path);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new BeaconError('insecure_key_file', `key file ${path} has mode ${mode}: it must be readable by its owner only (run: chmod 600 ${path})`);
  }
  return keyFromPem(readFileSync(path, 'utf8'), path);
}

/** Creates a new key file (mode 0600); fails if one exists, so a key is never overwritten. */
export function createKeyFile(path: string): KeyPair {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const keys = generateKeyPair();
  const fd = openSync(path, 'wx', 0o600);
  try {
    writeSync(fd, keyToPem(keys));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return keys;
}

/** Loads the key at `path`, generating it on first use. */
export function loadOrCreateKey(path: string): KeyPair {
  return existsSync(path) ? readKeyFile(path) : createKeyFile(path);
}

/**
 * A persisted, strictly increasing counter: `next()` is durable before it returns. The file is
 * re-read each time, so another counter on the same file (an overlapping restart, a second
 * instance) is never answered with a seq it already used.
 */
export class SeqCounter {
  private last: number;
  constructor(private readonly path: string) {
    this.last = this.read();
    if (!Number.isSafeInteger(this.last) || this.last < 0) throw new BeaconError('bad_state', `sequence file ${path} is corrupt`);
  }
  private read(): number {
    return existsSync(this.path) ? Number(readFileSync(this.path, 'utf8').trim()) : 0;
  }
  current(): number {
    let onDisk = NaN;
    try {
      onDisk = this.read();
    } catch {
      /* unreadable now: keep what we know */
    }
    if (Number.isSafeInteger(onDisk) && onDisk > this.last) this.last = onDisk;
    return this.last;
  }
  next(): number {
    const seq = this.current() + 1;
    writeFileDurable(this.path, `${seq}\n`);
    this.last = seq;
    return seq;
  }
}

/** Where the seq counter of a key file lives when no state directory is given (the CLI). */
export function seqPathFor(keyPath: string): string {
  return `${keyPath}.seq`;
}
