/**
 * Abuse control that forgets the sender. A source is HMAC(secret, address) with a random
 * secret that lives only in memory and is replaced every UTC day, together with every
 * bucket and key count; nothing here is written to disk or logged.
 */
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { addDays, dayStart, type Clock } from '../src/protocol/time.js';
import { MAX_SOURCES, SourceLimiter } from '../src/server/ratelimit.js';

export interface SenderLimits {
  capacity: number;
  refillPerSec: number;
  newKeysPerDay: number;
}

export type Admission = { ok: true } | { ok: false; reason: 'rate' | 'new_keys'; retryAfterSec: number };

export class SenderLimiter {
  private keys = new Map<string, Set<string>>();
  private readonly sources: SourceLimiter;

  constructor(
    private readonly limits: SenderLimits,
    private readonly now: Clock,
    randomBytes: (n: number) => Buffer = cryptoRandomBytes,
  ) {
    // Key counts are per source, so they go with the day's secret.
    this.sources = new SourceLimiter(limits, now, randomBytes, () => { this.keys = new Map(); });
  }

  /** The opaque source for an address, valid until the day's secret is replaced. */
  source(address: string): string {
    return this.sources.source(address);
  }

  /** Takes one token from the source's bucket. */
  take(source: string): Admission {
    const wait = this.sources.take(source);
    return wait === 0 ? { ok: true } : { ok: false, reason: 'rate', retryAfterSec: wait };
  }

  /** Counts `key` against the source's daily allowance of distinct keys. */
  admitKey(source: string, key: string): Admission {
    const day = this.sources.day();
    let seen = this.keys.get(source);
    if (seen?.has(key)) return { ok: true };
    if (!seen) {
      if (this.keys.size >= MAX_SOURCES) this.forgetKeySets();
      this.keys.set(source, (seen = new Set()));
    }
    if (seen.size >= this.limits.newKeysPerDay) {
      const untilTomorrow = dayStart(addDays(day, 1)) - this.now();
      return { ok: false, reason: 'new_keys', retryAfterSec: Math.max(1, Math.ceil(untilTomorrow / 1000)) };
    }
    seen.add(key);
    return { ok: true };
  }

  // Key sets are bounded like buckets: first those of sources whose bucket was forgotten.
  private forgetKeySets(): void {
    for (const s of this.keys.keys()) if (!this.sources.has(s)) this.keys.delete(s);
    if (this.keys.size >= MAX_SOURCES) this.keys.clear();
  }

  /** Number of sources tracked (for metrics). */
  size(): number {
    return this.sources.size();
  }

  /** What is held in memory: token buckets and per-source key sets. */
  tracked(): { buckets: number; keySets: number } {
    return { buckets: this.sources.size(), keySets: this.keys.size };
  }
}
