/**
 * Per-source token buckets that forget the sender, shared by the relay and the aggregator.
 * A source is HMAC(secret, peer address) under a random secret that lives only in memory and
 * is replaced every UTC day, together with every bucket: neither the address nor a stable
 * pseudonym of it is ever kept, written or logged.
 */
import { createHmac, randomBytes as cryptoRandomBytes } from 'node:crypto';
import { dayOf, type Clock } from '../protocol/time.js';

export interface TokenBucketLimits {
  capacity: number;
  refillPerSec: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Past this many tracked sources, full buckets (sources that behave) are forgotten first. */
export const MAX_SOURCES = 100_000;

export class SourceLimiter {
  private currentDay = '';
  private secret: Buffer = Buffer.alloc(0);
  private buckets = new Map<string, Bucket>();

  constructor(
    private readonly limits: TokenBucketLimits,
    private readonly now: Clock,
    private readonly randomBytes: (n: number) => Buffer = cryptoRandomBytes,
    /** Called when the day's secret is replaced, so callers can drop their per-source state too. */
    private readonly onRotate: () => void = () => {},
  ) {}

  /** The UTC day of the current secret (rotating first if the day has changed). */
  day(): string {
    const today = dayOf(this.now());
    if (today !== this.currentDay) {
      this.currentDay = today;
      this.secret = this.randomBytes(32);
      this.buckets = new Map();
      this.onRotate();
    }
    return this.currentDay;
  }

  /** The opaque source for an address, valid until the day's secret is replaced. */
  source(address: string): string {
    this.day();
    return createHmac('sha256', this.secret).update(address).digest('base64url').slice(0, 22);
  }

  /** Takes one token from the source's bucket: 0 if allowed, else seconds until a token is back. */
  take(source: string): number {
    this.day();
    const now = this.now();
    const { capacity, refillPerSec } = this.limits;
    let b = this.buckets.get(source);
    if (b) b.tokens = Math.min(capacity, b.tokens + ((now - b.at) / 1000) * refillPerSec);
    else {
      if (this.buckets.size >= MAX_SOURCES) this.forgetFull(now);
      this.buckets.set(source, (b = { tokens: capacity, at: now }));
    }
    b.at = now;
    if (b.tokens < 1) return Math.max(1, Math.ceil((1 - b.tokens) / refillPerSec));
    b.tokens -= 1;
    return 0;
  }

  has(source: string): boolean {
    return this.buckets.has(source);
  }

  /** Number of sources with a bucket in memory. */
  size(): number {
    return this.buckets.size;
  }

  private forgetFull(now: number): void {
    const { capacity, refillPerSec } = this.limits;
    for (const [s, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * refillPerSec >= capacity) this.buckets.delete(s);
    // Still too many: start over rather than grow without bound.
    if (this.buckets.size >= MAX_SOURCES) this.buckets.clear();
  }
}
