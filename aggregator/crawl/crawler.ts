/**
 * Crawling: installations' well-known endpoints and relays' pull feeds. Due targets
 * are fetched with bounded concurrency; every report goes through the same ingest
 * path as a push; failures back off exponentially and dead targets expire.
 */
import { z } from 'zod';
import type { Logger } from '../../src/server/http.js';
import { addDays, dayOf, type Clock } from '../../src/protocol/time.js';
import type { CrawlConfig } from '../config.js';
import { itemJson, type Ingestor, type ItemResult } from '../ingest.js';
import type { Store, TargetRow } from '../store.js';
import { FetchError, type Fetcher, type FetchOptions } from './fetch.js';

export const WELL_KNOWN_PATH = '/.well-known/beacon';

export interface CrawlerOptions {
  store: Store;
  ingest: Ingestor;
  config: CrawlConfig;
  clock: Clock;
  fetcher: Fetcher;
  log: Logger;
  /** outcome: "ok", "not_modified", or a failure code. */
  onFetch?: (kind: TargetRow['kind'], outcome: string, seconds: number) => void;
}

export interface CrawlSummary {
  targets: number;
  ok: number;
  failed: number;
  expired: number;
}

export type TargetCheck = { ok: true; url: string; result: ItemResult } | { ok: false; code: string; message: string };

const FeedSchema = z.strictObject({
  items: z.array(z.unknown()).max(1000),
  next: z.union([z.string().max(512), z.number().int().nonnegative(), z.null()]),
});

/** Why a target failed, as a short stable code. */
class TargetFailure extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** The target's canonical form: http(s), no credentials, query or fragment, no trailing slash. */
export function normalizeTargetUrl(input: string): string | null {
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    return null;
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password || input.length > 2048) return null;
  return u.origin + u.pathname.replace(/\/+$/, '');
}

export class Crawler {
  private running: Promise<CrawlSummary> | null = null;

  constructor(private readonly o: CrawlerOptions) {}

  private fetchOptions(maxBytes: number, etag?: string | null): FetchOptions {
    const c = this.o.config;
    return {
      connectTimeoutMs: c.connectTimeoutMs, totalTimeoutMs: c.totalTimeoutMs, maxBytes,
      maxRedirects: c.maxRedirects, allowPrivate: c.allowPrivate, userAgent: c.userAgent, etag: etag ?? null,
    };
  }

  /** Crawls every due target once; concurrent calls share one run. */
  crawlOnce(): Promise<CrawlSummary> {
    if (!this.running) this.running = this.run().finally(() => { this.running = null; });
    return this.running;
  }

  /** Resolves when no crawl is running (for shutdown). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async run(): Promise<CrawlSummary> {
    const { store, clock, config } = this.o;
    const expired = store.expireTargets(addDays(dayOf(clock()), -config.deadAfterDays));
    const due = store.dueTargets(clock(), 100_000);
    const summary: CrawlSummary = { targets: due.length, ok: 0, failed: 0, expired };
    let next = 0;
    const worker = async () => {
      while (next < due.length) {
        const t = due[next++]!;
        if (await this.crawlTarget(t)) summary.ok++;
        else summary.failed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(config.concurrency, due.length) }, worker));
    store.flushTargets();
    return summary;
  }

  /** Fetches one target and records the outcome on it; true on success. */
  async crawlTarget(t: TargetRow): Promise<boolean> {
    const { store, clock, config } = this.o;
    const started = performance.now();
    let outcome = 'ok';
    try {
      if (t.kind === 'relay') {
        await this.pullFeed(t);
        store.targetOk(t.url, { day: dayOf(clock()), nextDue: clock() + config.intervalMs });
      } else {
        const r = await this.o.fetcher(t.url + WELL_KNOWN_PATH, this.fetchOptions(config.maxBytes, t.etag));
        if (r.status === 304) outcome = 'not_modified';
        else {
          const [res] = await this.o.ingest.submit([r.body]);
          if (!res!.ok && res!.code !== 'replayed') throw new TargetFailure(res!.code, res!.message);
        }
        store.targetOk(t.url, { day: dayOf(clock()), nextDue: clock() + config.intervalMs, etag: r.status === 200 ? r.etag : null });
      }
      return true;
    } catch (e) {
      const code = e instanceof FetchError || e instanceof TargetFailure ? e.code : 'internal';
      if (code === 'internal') this.o.log('error', 'crawl failed unexpectedly', { err: String((e as Error)?.stack ?? e) });
      outcome = code;
      const backoff = Math.min(config.backoff.baseMs * 2 ** Math.min(t.failures, 30), config.backoff.maxMs);
      store.targetFailed(t.url, code, clock() + backoff);
      return false;
    } finally {
      this.o.onFetch?.(t.kind, outcome, (performance.now() - started) / 1000);
    }
  }

  /** Pulls up to feedMaxPages pages; the cursor is saved after each page's reports are committed. */
  private async pullFeed(t: TargetRow): Promise<void> {
    const { config, store, fetcher, ingest } = this.o;
    let cursor = t.cursor;
    for (let page = 0; page < config.feedMaxPages; page++) {
      const q = new URLSearchParams({ limit: String(config.feedLimit) });
      if (cursor !== null) q.set('after', cursor);
      const r = await fetcher(`${t.url}/v1/feed?${q}`, this.fetchOptions(config.feedMaxBytes));
      if (r.status !== 200) throw new TargetFailure('bad_status', 'unexpected 304 from a feed');
      let parsed: z.infer<typeof FeedSchema>;
      try {
        parsed = FeedSchema.parse(JSON.parse(r.body.toString('utf8')));
      } catch {
        throw new TargetFailure('bad_feed', 'feed page is not {"items": [...], "next": cursor}');
      }
      if (parsed.items.length) await ingest.submit(parsed.items.map(itemJson));
      const nextCursor = parsed.next === null ? null : String(parsed.next);
      if (nextCursor === null || nextCursor === cursor) break;
      store.setCursor(t.url, nextCursor);
      cursor = nextCursor;
      if (parsed.items.length < config.feedLimit) break;
    }
  }

  /**
   * POST /v1/targets: a target is added only after its well-known endpoint answered
   * with a report that verifies (its report is ingested like any other).
   */
  async checkTarget(input: string): Promise<TargetCheck> {
    const url = normalizeTargetUrl(input);
    if (!url) return { ok: false, code: 'bad_url', message: 'url must be an http(s) base URL without credentials' };
    let body: Buffer;
    try {
      const r = await this.o.fetcher(url + WELL_KNOWN_PATH, this.fetchOptions(this.o.config.maxBytes));
      if (r.status !== 200) return { ok: false, code: 'target_unreachable', message: 'unexpected 304' };
      body = r.body;
    } catch (e) {
      const code = e instanceof FetchError ? e.code : 'network';
      if (code === 'private_address' || code === 'bad_url') return { ok: false, code, message: (e as Error).message };
      return { ok: false, code: 'target_unreachable', message: `${code}: ${(e as Error).message}` };
    }
    const [result] = await this.o.ingest.submit([body]);
    if (!result!.ok && result!.code !== 'replayed') return { ok: false, code: result!.code, message: result!.message };
    return { ok: true, url, result: result! };
  }
}
