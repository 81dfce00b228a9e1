/**
 * Growing a store to N installations through the store's own API (Store.commit, the
 * call ingest makes), in big transactions, without HTTP or signatures: the rows are
 * what ingest would write for N installations reporting over the last days. Envelope
 * text is stored at its real size, so the file is as big as a real one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createAggregator } from '../../aggregator/index.js';
import type { Candidate } from '../../aggregator/store.js';
import { canonicalize } from '../../src/protocol/canonical.js';
import { toBase64, toBase64Url } from '../../src/protocol/base64.js';
import { addDays, dayOf } from '../../src/protocol/time.js';
import { MANIFEST, reportFactory } from './envelopes.js';
import { PAYLOAD_TYPE } from '../../src/protocol/report.js';
import { envelopeJson } from '../../src/protocol/envelope.js';

/** Installations are spread over this many past days (today included). */
export const SPREAD_DAYS = 14;

const PLACEHOLDER = 'A'.repeat(43);

/**
 * Canonical payload text per (value set, day) with a placeholder key: the key is a
 * fixed-length string and keys sort the same way whatever its value, so replacing the
 * placeholder yields exactly canonicalize(report) without canonicalizing a million times.
 */
function templates(now: number, variety: number): { payload: (key: string, idx: number) => string; values: (idx: number) => string; period: (idx: number) => string } {
  const report = reportFactory(now, 7, variety);
  const today = dayOf(now);
  const days = Array.from({ length: SPREAD_DAYS }, (_, d) => addDays(today, -d));
  const texts: string[][] = [];
  const values: string[] = [];
  for (let v = 0; v < variety; v++) {
    const r = report(PLACEHOLDER, v);
    values.push(canonicalize(r.values));
    texts.push(days.map((period) => canonicalize({ ...r, period, issued: `${period}T12:00:00Z` })));
  }
  return {
    payload: (key, idx) => texts[idx % variety]![idx % SPREAD_DAYS]!.replace(PLACEHOLDER, key),
    values: (idx) => values[idx % variety]!,
    period: (idx) => days[idx % SPREAD_DAYS]!,
  };
}

/**
 * Adds installations until the store holds `target`; returns seconds spent. It goes
 * through a whole aggregator's Store, so every commit hook (the totals' drain) runs
 * as it does for ingest.
 */
export async function populate(dbPath: string, target: number, now: number, batch = 20_000): Promise<{ added: number; seconds: number }> {
  const agg = createAggregator({ dbPath }, { clock: () => now });
  const store = agg.store;
  // The bulk load's own connection: a big page cache for random-key inserts. The server
  // under test opens the file with the aggregator's own settings.
  store.db.pragma('cache_size = -262144');
  try {
    const have = store.counts().installations;
    const started = performance.now();
    const today = dayOf(now);
    const t = templates(now, 509); // prime, so value set and day vary independently
    const fakeSig = toBase64(randomBytes(64));
    for (let done = have; done < target; ) {
      const n = Math.min(batch, target - done);
      const items: Candidate[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const idx = done + i;
        const key = toBase64Url(randomBytes(32));
        const payload = Buffer.from(t.payload(key, idx), 'utf8');
        items[i] = {
          key, product: MANIFEST.product, period: t.period(idx), seq: 1, manifest: MANIFEST.version, valuesJson: t.values(idx),
          digest: createHash('sha256').update(payload).digest(),
          envelope: envelopeJson({ payloadType: PAYLOAD_TYPE, payload: payload.toString('base64'), signatures: [{ keyid: key, sig: fakeSig }] }),
        };
      }
      // Committed in period order, as a day's crawl would.
      items.sort((a, b) => (a.period < b.period ? -1 : a.period > b.period ? 1 : 0));
      store.commit(items, today);
      done += n;
    }
    return { added: target - have, seconds: (performance.now() - started) / 1000 };
  } finally {
    await agg.close();
  }
}
