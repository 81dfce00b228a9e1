/**
 * The aggregator's storage: every SQL statement lives here, prepared once.
 * Acceptance that depends on stored state (replay, duplicate, replace) is decided
 * inside the commit transaction, so concurrent requests cannot race each other.
 */
import { statSync } from 'node:fs';
import type { Db } from './db/index.js';

/** A verified report waiting for its commit. */
export interface Candidate {
  key: string;
  product: string;
  period: string;
  seq: number;
  manifest: number;
  valuesJson: string;
  digest: Buffer;
  envelope: string;
}

export type CommitOutcome = 'accepted' | 'duplicate' | 'replayed';

export type TargetKind = 'wellknown' | 'relay';
export type TargetState = 'new' | 'up' | 'down' | 'expired';

export interface TargetRow {
  url: string;
  kind: TargetKind;
  origin: 'config' | 'api';
  state: TargetState;
  added_day: string;
  etag: string | null;
  cursor: string | null;
  next_due: number;
  failures: number;
  last_ok_day: string | null;
  last_error_code: string | null;
}

/** Run inside the retention transaction; the totals side can fold old rows into aggregates here. */
export type RetentionHook = (db: Db, cutoffDay: string) => void;

/** Run inside each commit transaction after its reports are written (the totals fold them in). */
export type CommitHook = (db: Db) => void;

interface InstallationRow { last_seq: number }
interface ReportRow { seq: number; digest: Buffer | null }

export class Store {
  readonly retentionHooks: RetentionHook[] = [];
  readonly commitHooks: CommitHook[] = [];
  private readonly s;

  constructor(readonly db: Db, readonly path: string) {
    this.s = {
      getInstallation: db.prepare<[string], InstallationRow>('SELECT last_seq FROM installations WHERE key = ?'),
      putInstallation: db.prepare(
        `INSERT INTO installations (key, first_seen_day, last_seq) VALUES (@key, @day, @seq)
         ON CONFLICT (key) DO UPDATE SET last_seq = excluded.last_seq`),
      getReport: db.prepare<[string, string, string], ReportRow>('SELECT seq, digest FROM reports WHERE key = ? AND product = ? AND period = ?'),
      putReport: db.prepare(
        `INSERT INTO reports (key, product, period, seq, manifest, received_day, values_json, digest, envelope)
         VALUES (@key, @product, @period, @seq, @manifest, @day, @valuesJson, @digest, @envelope)
         ON CONFLICT (key, product, period) DO UPDATE SET seq = excluded.seq, manifest = excluded.manifest,
           received_day = excluded.received_day, values_json = excluded.values_json,
           digest = excluded.digest, envelope = excluded.envelope`),
      purgeRaw: db.prepare('DELETE FROM reports WHERE period < ?'),
      purgeInstallations: db.prepare('DELETE FROM installations WHERE NOT EXISTS (SELECT 1 FROM reports r WHERE r.key = installations.key)'),
      target: db.prepare<[string], TargetRow>('SELECT * FROM targets WHERE url = ?'),
      insertTarget: db.prepare(
        `INSERT INTO targets (url, kind, origin, state, added_day, next_due) VALUES (@url, @kind, @origin, 'new', @day, @now)
         ON CONFLICT (url) DO UPDATE SET state = 'new', next_due = @now, failures = 0, added_day = @day
           WHERE targets.state = 'expired'`),
      due: db.prepare<[number, number], TargetRow>(
        "SELECT * FROM targets WHERE state <> 'expired' AND next_due <= ? ORDER BY next_due LIMIT ?"),
      ok: db.prepare(
        `UPDATE targets SET state = 'up', failures = 0, last_error_code = NULL, last_ok_day = @day,
           next_due = @nextDue, etag = COALESCE(@etag, etag), cursor = COALESCE(@cursor, cursor) WHERE url = @url`),
      cursor: db.prepare('UPDATE targets SET cursor = ? WHERE url = ?'),
      fail: db.prepare(
        `UPDATE targets SET state = 'down', failures = failures + 1, last_error_code = @code, next_due = @nextDue WHERE url = @url`),
      expire: db.prepare(
        `UPDATE targets SET state = 'expired' WHERE state = 'down' AND COALESCE(last_ok_day, added_day) < ?`),
      states: db.prepare<[], { state: TargetState; n: number }>('SELECT state, COUNT(*) AS n FROM targets GROUP BY state'),
      countReports: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM reports'),
      countInstallations: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM installations'),
    };
  }

  /** One transaction for a whole group of candidates, decided in order. */
  commit(items: readonly Candidate[], today: string): CommitOutcome[] {
    return this.db.transaction(() => {
      const outcomes = items.map((c) => this.commitOne(c, today));
      for (const hook of this.commitHooks) hook(this.db);
      return outcomes;
    })();
  }

  private commitOne(c: Candidate, today: string): CommitOutcome {
    const existing = this.s.getReport.get(c.key, c.product, c.period);
    if (existing?.digest && existing.seq === c.seq && c.digest.equals(existing.digest)) return 'duplicate';
    const inst = this.s.getInstallation.get(c.key);
    if (inst && c.seq <= inst.last_seq) return 'replayed';
    this.s.putInstallation.run({ key: c.key, day: today, seq: c.seq });
    this.s.putReport.run({ ...c, day: today });
    return 'accepted';
  }

  /**
   * Deletes reports of periods before `cutoffDay`, and installations with no report left.
   * The totals were counted when each report was committed (commitHooks), so the published
   * aggregates stay; what goes is everything about one installation: its envelope, its
   * values and, once it has been silent that long, its key. (A key that comes back later is
   * new again: older reports of it are outside the period window and refused anyway.)
   */
  purgeRaw(cutoffDay: string): number {
    const n = this.db.transaction(() => {
      const n = this.s.purgeRaw.run(cutoffDay).changes;
      this.s.purgeInstallations.run();
      for (const hook of this.retentionHooks) hook(this.db, cutoffDay);
      return n;
    })();
    // The WAL still holds the pages as they were before the delete: copy the zeroed pages
    // into the database file and empty the WAL, so the deleted bytes leave the disk now.
    if (this.path !== ':memory:') this.db.pragma('wal_checkpoint(TRUNCATE)');
    return n;
  }

  target(url: string): TargetRow | undefined {
    this.flushTargets();
    return this.s.target.get(url);
  }

  /** Adds a target (or revives an expired one); returns true if it is now due. */
  addTarget(url: string, kind: TargetKind, origin: 'config' | 'api', now: number, today: string): boolean {
    return this.s.insertTarget.run({ url, kind, origin, day: today, now }).changes > 0;
  }

  dueTargets(now: number, limit: number): TargetRow[] {
    this.flushTargets();
    return this.s.due.all(now, limit);
  }

  /**
   * Crawl outcomes are bookkeeping, not acknowledged data: they are buffered and written in
   * one transaction per event-loop turn (one fsync for a whole wave of targets instead of one
   * per target, which capped the crawl rate; see docs/BENCHMARKS.md). Losing the last wave
   * to a power cut only means those targets are fetched again.
   */
  private pendingTargets: (() => void)[] = [];

  private queueTarget(write: () => void): void {
    if (this.pendingTargets.push(write) === 1) setImmediate(() => this.flushTargets());
  }

  /** Writes buffered crawl outcomes now (the crawler calls it at the end of a crawl; close() too). */
  flushTargets(): void {
    if (!this.pendingTargets.length || !this.db.open) return;
    const writes = this.pendingTargets;
    this.pendingTargets = [];
    this.db.transaction(() => { for (const w of writes) w(); })();
  }

  targetOk(url: string, o: { day: string; nextDue: number; etag?: string | null; cursor?: string | null }): void {
    const row = { url, day: o.day, nextDue: o.nextDue, etag: o.etag ?? null, cursor: o.cursor ?? null };
    this.queueTarget(() => this.s.ok.run(row));
  }

  /** Relay cursors advance page by page, each only after that page's reports are committed. */
  setCursor(url: string, cursor: string): void {
    this.s.cursor.run(cursor, url);
  }

  targetFailed(url: string, code: string, nextDue: number): void {
    this.queueTarget(() => this.s.fail.run({ url, code, nextDue }));
  }

  /** Targets that are down and have had no success since `cutoffDay` stop being crawled. */
  expireTargets(cutoffDay: string): number {
    this.flushTargets();
    return this.s.expire.run(cutoffDay).changes;
  }

  targetStates(): Record<TargetState, number> {
    this.flushTargets();
    const out: Record<TargetState, number> = { new: 0, up: 0, down: 0, expired: 0 };
    for (const r of this.s.states.all()) out[r.state] = r.n;
    return out;
  }

  counts(): { reports: number; installations: number } {
    return { reports: this.s.countReports.get()!.n, installations: this.s.countInstallations.get()!.n };
  }

  /** Database file plus WAL, in bytes. */
  sizeBytes(): number {
    if (this.path === ':memory:') return 0;
    let n = 0;
    for (const p of [this.path, `${this.path}-wal`]) {
      try { n += statSync(p).size; } catch { /* no WAL yet */ }
    }
    return n;
  }

  close(): void {
    this.flushTargets();
    if (this.db.open) this.db.close();
  }
}
