/**
 * The relay's buffer: better-sqlite3 in WAL mode with synchronous=FULL, so a committed
 * transaction has reached the disk before the relay answers 202.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from './migrations.js';

export interface IncomingReport {
  digest: Buffer;
  envelope: Buffer;
  key: string;
  product: string;
  period: string;
  seq: number;
}

export type IngestOutcome = 'accepted' | 'duplicate' | 'replayed' | 'full';

export interface StoreLimits {
  maxReports: number;
  maxBytes: number;
}

export interface HeldRow {
  id: number;
  envelope: Buffer;
}

/** `acknowledged`: accepted or a duplicate (the batch answer counts them, it does not say which). */
export type DeliveryOutcome = 'acknowledged' | `rejected:${string}`;

/** Delivery state is keyed by a hash of the aggregator URL, so the database names no host. */
export function aggregatorId(url: string): string {
  return createHash('sha256').update(url).digest('base64url').slice(0, 22);
}

export function reportDigest(payload: Uint8Array, signature: Uint8Array): Buffer {
  return createHash('sha256').update(payload).update(signature).digest();
}

export class RelayStore {
  readonly db: Database.Database;
  private held = { count: 0, bytes: 0 };
  private readonly s;

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    const db = this.db;
    this.s = {
      byDigest: db.prepare('SELECT id FROM reports WHERE digest = ?').pluck(),
      maxSeq: db.prepare('SELECT max(seq) FROM reports WHERE key = ?').pluck(),
      sameCell: db.prepare('SELECT count(*) AS n, total(length(envelope)) AS bytes FROM reports WHERE key = ? AND product = ? AND period = ?'),
      deleteCell: db.prepare('DELETE FROM reports WHERE key = ? AND product = ? AND period = ?'),
      insert: db.prepare('INSERT INTO reports (digest, envelope, key, product, period, seq) VALUES (?, ?, ?, ?, ?, ?)'),
      stats: db.prepare('SELECT count(*) AS n, total(length(envelope)) AS bytes FROM reports'),
      unpublished: db.prepare('SELECT id FROM reports WHERE feed_id IS NULL ORDER BY id').pluck(),
      nextFeedId: db.prepare("SELECT value FROM meta WHERE name = 'next_feed_id'").pluck(),
      setNextFeedId: db.prepare("UPDATE meta SET value = ? WHERE name = 'next_feed_id'"),
      publish: db.prepare('UPDATE reports SET feed_id = ? WHERE id = ?'),
      feed: db.prepare('SELECT feed_id AS id, envelope FROM reports WHERE feed_id > ? ORDER BY feed_id LIMIT ?'),
      undelivered: db.prepare(
        'SELECT id, envelope FROM reports r WHERE id > ? AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.report_id = r.id AND d.aggregator = ?) ORDER BY id LIMIT ?',
      ),
      // A report deleted meanwhile (superseded, expired) simply gets no row.
      deliver: db.prepare('INSERT OR IGNORE INTO deliveries (report_id, aggregator, outcome) SELECT id, ?, ? FROM reports WHERE id = ?'),
      deleteDelivered: db.prepare(
        'DELETE FROM reports WHERE id IN (SELECT report_id FROM deliveries WHERE aggregator IN (SELECT value FROM json_each(?)) GROUP BY report_id HAVING count(*) = ?)',
      ),
      expire: db.prepare('DELETE FROM reports WHERE period < ?'),
    };
    this.recount();
  }

  private recount(): void {
    const r = this.s.stats.get() as { n: number; bytes: number };
    this.held = { count: r.n, bytes: r.bytes };
  }

  stats(): { reports: number; bytes: number } {
    return { reports: this.held.count, bytes: this.held.bytes };
  }

  /**
   * Stores a group of verified reports in one transaction (one fsync for the group).
   * A newer seq for the same (key, product, period) replaces the older one, as the
   * aggregator would; nothing else already held is ever removed to make room.
   */
  ingest(items: readonly IncomingReport[], limits: StoreLimits): IngestOutcome[] {
    const run = this.db.transaction((): IngestOutcome[] => {
      const out: IngestOutcome[] = [];
      for (const it of items) {
        if (this.s.byDigest.get(it.digest) !== undefined) { out.push('duplicate'); continue; }
        const maxSeq = this.s.maxSeq.get(it.key) as number | null;
        if (maxSeq !== null && maxSeq >= it.seq) { out.push('replayed'); continue; }
        const cell = this.s.sameCell.get(it.key, it.product, it.period) as { n: number; bytes: number };
        if (this.held.count - cell.n + 1 > limits.maxReports || this.held.bytes - cell.bytes + it.envelope.length > limits.maxBytes) {
          out.push('full');
          continue;
        }
        if (cell.n) this.s.deleteCell.run(it.key, it.product, it.period);
        this.s.insert.run(it.digest, it.envelope, it.key, it.product, it.period, it.seq);
        this.held.count += 1 - cell.n;
        this.held.bytes += it.envelope.length - cell.bytes;
        out.push('accepted');
      }
      return out;
    });
    try {
      return run();
    } catch (e) {
      this.recount(); // the transaction rolled back; so do the counters
      throw e;
    }
  }

  /** Publishes every unpublished report to the feed, in the order `shuffle` gives. */
  publish(shuffle: <T>(items: T[]) => T[]): number {
    return this.db.transaction(() => {
      const ids = shuffle(this.s.unpublished.all() as number[]);
      let next = this.s.nextFeedId.get() as number;
      for (const id of ids) this.s.publish.run(next++, id);
      this.s.setNextFeedId.run(next);
      return ids.length;
    })();
  }

  feed(after: number, limit: number): HeldRow[] {
    return this.s.feed.all(after, limit) as HeldRow[];
  }

  undelivered(aggregator: string, afterId: number, limit: number): HeldRow[] {
    return this.s.undelivered.all(afterId, aggregator, limit) as HeldRow[];
  }

  markDelivered(aggregator: string, done: ReadonlyArray<{ id: number; outcome: DeliveryOutcome }>): void {
    this.db.transaction(() => {
      for (const d of done) this.s.deliver.run(aggregator, d.outcome, d.id);
    })();
  }

  /**
   * Deletes reports every listed aggregator is done with, and reports whose period is
   * before `expireBefore`. With no aggregators (a feed-only relay) only expiry deletes.
   */
  sweep(aggregators: readonly string[], expireBefore: string): { delivered: number; expired: number } {
    const r = this.db.transaction(() => ({
      delivered: aggregators.length ? this.s.deleteDelivered.run(JSON.stringify(aggregators), aggregators.length).changes : 0,
      expired: this.s.expire.run(expireBefore).changes,
    }))();
    if (r.delivered || r.expired) this.recount();
    return r;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
