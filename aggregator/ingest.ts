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
import { GroupCommit } from '../src/server/group-commit.js';
import type { Candidate, Store } from './store.js';

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

const REPLAYED = { ok: false, code: 'replayed', message: 'seq is not greater than the last accepted for this key' } as const;

export class Ingestor {
  private readonly group: GroupCommit<Candidate, ItemResult>;

  constructor(private readonly o: IngestOptions) {
    this.group = new GroupCommit((candidates) => this.commit(candidates));
  }

  /** Verifies and stores envelopes (bytes or strings); one result per input, in order. */
  async submit(inputs: readonly (Uint8Array | string)[]): Promise<ItemResult[]> {
    const checked = await Promise.all(inputs.map((i) => this.check(i)));
    // A batch's candidates join the queue together, so they share one commit and its seq ordering.
    const results = await Promise.all(checked.map((c) => ('ok' in c ? c : this.group.submit(c))));
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

  /** One transaction for everything that finished verification in the same turn. */
  private commit(candidates: Candidate[]): ItemResult[] {
    // Lower seq first, so a shuffled batch from a relay does not make a key's older report look replayed.
    const order = candidates.map((_, i) => i).sort((i, j) => {
      const a = candidates[i]!, b = candidates[j]!;
      return a.key < b.key ? -1 : a.key > b.key ? 1 : a.seq - b.seq;
    });
    const outcomes = this.o.store.commit(order.map((i) => candidates[i]!), dayOf(this.o.clock()));
    const results: ItemResult[] = new Array(candidates.length);
    order.forEach((i, n) => {
      const out = outcomes[n]!;
      results[i] = out === 'replayed' ? REPLAYED : { ok: true, outcome: out };
    });
    return results;
  }

  /** Resolves once everything queued so far has been committed (for shutdown). */
  drain(): Promise<void> {
    return this.group.drain();
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
