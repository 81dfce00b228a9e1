/**
 * Ingest: verify (node:crypto on the thread pool, so both cores work), apply the
 * aggregator's acceptance rules, and group-commit. Every caller's promise resolves
 * only after the transaction holding its report has committed, so a 202 is never
 * sent for something that is not on disk.
 */
import { createHash } from 'node:crypto';
import { canonicalize } from '../src/protocol/canonical.js';
import { envelopeJson } from '../src/protocol/envelope.js';
import type { ManifestRegistry } from '../src/protocol/registry.js';
import { addDays, dayOf, type Clock } from '../src/protocol/time.js';
import { verifyEnvelopeAsync } from '../src/protocol/verify.js';
import type { Candidate, CommitOutcome, Store } from './store.js';

export type ItemResult =
  | { ok: true; outcome: 'accepted' | 'duplicate' }
  | { ok: false; code: string; message: string };

export interface IngestOptions {
  store: Store;
  manifests: ManifestRegistry;
  clock: Clock;
  periodWindowDays: number;
  skewMs: number;
  /** Called with every item's result (for metrics). */
  onResult?: (r: ItemResult) => void;
}

interface Queued {
  candidate: Candidate;
  resolve: (r: ItemResult) => void;
  reject: (e: unknown) => void;
}

const REPLAYED = { ok: false, code: 'replayed', message: 'seq is not greater than the last accepted for this key' } as const;

export class Ingestor {
  private queue: Queued[] = [];
  private scheduled = false;

  constructor(private readonly o: IngestOptions) {}

  /** Verifies and stores envelopes (bytes or strings); one result per input, in order. */
  async submit(inputs: readonly (Uint8Array | string)[]): Promise<ItemResult[]> {
    const checked = await Promise.all(inputs.map((i) => this.check(i)));
    // A batch's candidates join the queue together, so they share one commit and its seq ordering.
    const results = await Promise.all(checked.map((c) => ('ok' in c ? c : this.enqueue(c))));
    for (const r of results) this.o.onResult?.(r);
    return results;
  }

  private async check(input: Uint8Array | string): Promise<Candidate | Extract<ItemResult, { ok: false }>> {
    const { clock, manifests, periodWindowDays, skewMs } = this.o;
    // The verifier's age limit is kept loose; the period window below is the rule.
    const v = await verifyEnvelopeAsync(input, { manifests, now: clock, skewMs, maxAgeMs: (periodWindowDays + 2) * 86_400_000 });
    if (!v.ok) return { ok: false, code: v.error.code, message: v.error.message };
    const now = clock();
    const r = v.report;
    if (r.period < addDays(dayOf(now), -periodWindowDays))
      return { ok: false, code: 'stale', message: `period ${r.period} is older than the accepted window of ${periodWindowDays} days` };
    if (r.period > dayOf(now + skewMs)) return { ok: false, code: 'from_future', message: `period ${r.period} is in the future` };
    return {
      key: r.key,
      product: r.product,
      period: r.period,
      seq: r.seq,
      manifest: r.manifest,
      valuesJson: canonicalize(r.values),
      digest: createHash('sha256').update(v.payload).digest(),
      envelope: envelopeJson(v.envelope),
    };
  }

  private enqueue(candidate: Candidate): Promise<ItemResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ candidate, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** One transaction for everything queued since the last tick. */
  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (!batch.length) return;
    // Lower seq first, so a shuffled batch from a relay does not make a key's older report look replayed.
    batch.sort((a, b) => (a.candidate.key < b.candidate.key ? -1 : a.candidate.key > b.candidate.key ? 1 : a.candidate.seq - b.candidate.seq));
    let outcomes: CommitOutcome[];
    try {
      outcomes = this.o.store.commit(batch.map((q) => q.candidate), dayOf(this.o.clock()));
    } catch (e) {
      for (const q of batch) q.reject(e);
      return;
    }
    batch.forEach((q, i) => {
      const out = outcomes[i]!;
      q.resolve(out === 'replayed' ? REPLAYED : { ok: true, outcome: out });
    });
  }

  /** Resolves once everything queued so far has been committed (for shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length || this.scheduled) await new Promise((r) => setImmediate(r));
  }
}

/**
 * The bytes the verifier gets for a batch or feed item (already parsed as part of a larger
 * body): its compact JSON. JSON.parse takes nesting that JSON.stringify overflows on; such
 * an item becomes `null`, an item-level bad_envelope, instead of failing the whole request.
 */
export function itemJson(item: unknown): string {
  try {
    return JSON.stringify(item) ?? 'null';
  } catch {
    return 'null';
  }
}

export function tally(results: readonly ItemResult[]): { accepted: number; duplicates: number } {
  let accepted = 0;
  let duplicates = 0;
  for (const r of results) {
    if (r.ok && r.outcome === 'accepted') accepted++;
    else if (r.ok) duplicates++;
  }
  return { accepted, duplicates };
}
