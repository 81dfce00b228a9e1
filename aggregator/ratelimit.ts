/** The aggregator's per-source rate limit: the shared daily-keyed token buckets, by peer address. */
import { SourceLimiter, type TokenBucketLimits } from '../src/server/ratelimit.js';
import type { Clock } from '../src/protocol/time.js';

export type RateLimitConfig = TokenBucketLimits;

export class RateLimiter {
  private readonly sources: SourceLimiter;

  constructor(cfg: RateLimitConfig, clock: Clock) {
    this.sources = new SourceLimiter(cfg, clock);
  }

  /** Takes one token for `address`; returns 0 if allowed, else seconds until a token is back. */
  take(address: string | undefined): number {
    return this.sources.take(this.sources.source(address ?? ''));
  }
}
