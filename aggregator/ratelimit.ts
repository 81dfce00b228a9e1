/**
 * Per-source token buckets, in memory only. The source is an HMAC of the peer
 * address under a random secret that is replaced every UTC day, so neither the
 * address nor a stable pseudonym of it is ever kept, written or logged.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { dayOf, type Clock } from '../src/protocol/time.js';

export interface RateLimitConfig {
  capacity: number;
  refillPerSec: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

const MAX_SOURCES = 100_000;

export class RateLimiter {
  private buckets = new Map<string, Bucket>();
  private secret = randomBytes(32);
  private day = '';

  constructor(private readonly cfg: RateLimitConfig, private readonly clock: Clock) {}

  /** Takes one token for `address`; returns 0 if allowed, else seconds until a token is back. */
  take(address: string | undefined): number {
    const now = this.clock();
    const today = dayOf(now);
    if (today !== this.day) {
      this.day = today;
      this.secret = randomBytes(32);
      this.buckets.clear();
    }
    const source = createHmac('sha256', this.secret).update(address ?? '').digest('base64url').slice(0, 22);
    let b = this.buckets.get(source);
    if (!b) {
      if (this.buckets.size >= MAX_SOURCES) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.cfg.capacity, at: now };
      this.buckets.set(source, b);
    }
    b.tokens = Math.min(this.cfg.capacity, b.tokens + ((now - b.at) / 1000) * this.cfg.refillPerSec);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.cfg.refillPerSec));
  }
}
