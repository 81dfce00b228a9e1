/**
 * The persisted outbox: reports not yet delivered, one file per (target, period) holding the
 * newest envelope of that day. Bounded: at most `limit` files, oldest dropped first, and
 * nothing older than receivers accept (they would answer `stale` anyway).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileDurable } from '../keyfile.js';
import { MAX_ENVELOPE_BYTES } from '../protocol/envelope.js';
import { isDay } from '../protocol/time.js';

export const OutboxEntrySchema = z.strictObject({
  target: z.string().min(1).max(2000),
  period: z.string().refine(isDay),
  seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  /** When the report was built (ms), for expiry. */
  builtAt: z.number().int().min(0),
  /** The envelope exactly as it goes on the wire. */
  body: z.string().min(2).max(MAX_ENVELOPE_BYTES),
  attempts: z.number().int().min(0).max(1_000_000),
  nextAttempt: z.number().int().min(0),
  lastError: z.string().max(200).optional(),
});

export type OutboxEntry = z.infer<typeof OutboxEntrySchema>;

const fileOf = (e: Pick<OutboxEntry, 'target' | 'period'>) =>
  `${createHash('sha256').update(e.target).digest('hex').slice(0, 16)}-${e.period}.json`;

const older = (a: OutboxEntry, b: OutboxEntry) => (a.period === b.period ? a.seq - b.seq : a.period < b.period ? -1 : 1);

export class Outbox {
  private readonly entries = new Map<string, OutboxEntry>();

  /** Loads what a previous run left; unreadable files are removed (reported through `onDrop`). */
  constructor(
    private readonly dir: string,
    private readonly limit: number,
    private readonly maxAgeMs: number,
    private readonly onDrop: (entry: Pick<OutboxEntry, 'target' | 'period'> | null, why: string) => void,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (!name.endsWith('.json')) {
        if (name.endsWith('.tmp')) rmSync(path, { force: true }); // a write interrupted by a crash
        continue;
      }
      const parsed = (() => {
        try {
          return OutboxEntrySchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
        } catch {
          return null;
        }
      })();
      if (parsed?.success && fileOf(parsed.data) === name) this.entries.set(name, parsed.data);
      else {
        rmSync(path, { force: true });
        onDrop(null, 'corrupt');
      }
    }
  }

  get size(): number {
    return this.entries.size;
  }

  list(): OutboxEntry[] {
    return [...this.entries.values()].sort(older);
  }

  /** Queues an envelope, replacing an older one of the same target and day, then trims. */
  put(entry: OutboxEntry, now: number): void {
    const name = fileOf(entry);
    const had = this.entries.get(name);
    if (had && had.seq >= entry.seq) return;
    this.write(entry);
    this.trim(now);
  }

  update(entry: OutboxEntry): void {
    if (this.entries.has(fileOf(entry))) this.write(entry);
  }

  remove(entry: OutboxEntry): void {
    const name = fileOf(entry);
    // Only the entry that was sent: a newer one for the same day may have replaced it meanwhile.
    if (this.entries.get(name)?.seq !== entry.seq) return;
    this.entries.delete(name);
    rmSync(join(this.dir, name), { force: true });
  }

  due(now: number): OutboxEntry[] {
    return this.list().filter((e) => e.nextAttempt <= now);
  }

  /** The earliest time an entry wants to be retried, or null when empty. */
  earliest(): number | null {
    let min: number | null = null;
    for (const e of this.entries.values()) if (min === null || e.nextAttempt < min) min = e.nextAttempt;
    return min;
  }

  /** Drops entries receivers would refuse as stale, then the oldest beyond the limit. */
  trim(now: number): void {
    const all = this.list();
    for (const e of all) {
      if (now - e.builtAt > this.maxAgeMs) this.drop(e, 'expired');
    }
    const left = this.list();
    for (let i = 0; i < left.length - this.limit; i++) this.drop(left[i]!, 'outbox_full');
  }

  private drop(e: OutboxEntry, why: string): void {
    this.entries.delete(fileOf(e));
    rmSync(join(this.dir, fileOf(e)), { force: true });
    this.onDrop(e, why);
  }

  private write(entry: OutboxEntry): void {
    const name = fileOf(entry);
    writeFileDurable(join(this.dir, name), JSON.stringify(entry));
    this.entries.set(name, entry);
  }
}
