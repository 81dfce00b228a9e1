/**
 * Abuse control that forgets the sender. A source is HMAC(secret, address) with a random
 * secret that lives only in memory and is replaced every UTC day, together with every
 * bucket and key count; nothing here is written to disk or logged.
 */
import { createHmac, randomBytes as cryptoRandomBytes } from 'node:crypto';
import { dayOf, dayStart, addDays, type Clock } from '../src/protocol/time.js';

export interface SenderLimits {
  capacity: number;
  refillPerSec: number;
  newKeysPerDay: number;
}

export type Admission = { ok: true } | { ok: false; reason: 'rate' | 'new_keys'; retryAfterSec: number };

interface Bucket {
  tokens: number;
  at: number;
}

// Past this many tracked sources, full buckets (sources that behave) are forgotten first.
const MAX_SOURCES = 100_000;

export class SenderLimiter {
  private day = '';
  private secret: Buffer = Buffer.alloc(0);
  private buckets = new Map<string, Bucket>();
  private keys = new Map<string, Set<string>>();

  constructor(
    private readonly limits: SenderLimits,
    private readonly now: Clock,
    private readonly randomBytes: (n: number) => Buffer = cryptoRandomBytes,
  ) {}

  private rotate(): void {
    const today = dayOf(this.now());
    if (today === this.day) return;
    this.day = today;
    this.secret = this.randomBytes(32);
    this.buckets = new Map();
    this.keys = new Map();
  }

  /** The opaque source for an address, valid until the day's secret is replaced. */
  source(address: string): string {
    this.rotate();
    return createHmac('sha256', this.secret).update(address).digest('base64url').slice(0, 22);
  }

  /** Takes one token from the source's bucket. */
  take(source: string): Admission {
    this.rotate();
    const now = this.now();
    const { capacity, refillPerSec } = this.limits;
    let b = this.buckets.get(source);
    if (b) b.tokens = Math.min(capacity, b.tokens + ((now - b.at) / 1000) * refillPerSec);
    else {
      if (this.buckets.size >= MAX_SOURCES) this.forgetFull(now);
      this.buckets.set(source, (b = { tokens: capacity, at: now }));
    }
    b.at = now;
    if (b.tokens < 1) return { ok: false, reason: 'rate', retryAfterSec: Math.max(1, Math.ceil((1 - b.tokens) / refillPerSec)) };
    b.tokens -= 1;
    return { ok: true };
  }

  /** Counts `key` against the source's daily allowance of distinct keys. */
  admitKey(source: string, key: string): Admission {
    this.rotate();
    let seen = this.keys.get(source);
    if (seen?.has(key)) return { ok: true };
    if (!seen) {
      if (this.keys.size >= MAX_SOURCES) this.forgetKeySets();
      this.keys.set(source, (seen = new Set()));
    }
    if (seen.size >= this.limits.newKeysPerDay) {
      const untilTomorrow = dayStart(addDays(this.day, 1)) - this.now();
      return { ok: false, reason: 'new_keys', retryAfterSec: Math.max(1, Math.ceil(untilTomorrow / 1000)) };
    }
    seen.add(key);
    return { ok: true };
  }

  private forgetFull(now: number): void {
    const { capacity, refillPerSec } = this.limits;
    for (const [s, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * refillPerSec >= capacity) this.buckets.delete(s);
    // Still too many: start over rather than grow without bound.
    if (this.buckets.size >= MAX_SOURCES) this.buckets.clear();
  }

  // Key sets are bounded like buckets: first those of sources whose bucket was forgotten.
  private forgetKeySets(): void {
    for (const s of this.keys.keys()) if (!this.buckets.has(s)) this.keys.delete(s);
    if (this.keys.size >= MAX_SOURCES) this.keys.clear();
  }

  /** Number of sources tracked (for metrics). */
  size(): number {
    return this.buckets.size;
  }

  /** What is held in memory: token buckets and per-source key sets. */
  tracked(): { buckets: number; keySets: number } {
    return { buckets: this.buckets.size, keySets: this.keys.size };
  }
}
