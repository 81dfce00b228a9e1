/**
 * The totals service: request parameters in, published documents out. Reads only
 * materialized counts (TotalsStore), applies suppression and noise, and raises
 * HttpErrors with stable codes for bad parameters (400) and unknown products (404).
 */
import type { Manifest } from '../../src/protocol/manifest.js';
import { ProductId } from '../../src/protocol/manifest.js';
import type { ManifestRegistry } from '../../src/protocol/registry.js';
import { dayOf, type Clock } from '../../src/protocol/time.js';
import { HttpError } from '../../src/server/http.js';
import { publishTotals } from './compute.js';
import type { ProductSummary, Series, Totals } from './schema.js';
import { seriesOf } from './series.js';
import type { NoiseOptions } from './suppress.js';
import type { TotalsStore } from './store.js';
import {
  isComplete, isWindowKind, latestCompleteWindow, parsePeriod, windowRange, windowsEndingWith, type Window, type WindowKind,
} from './windows.js';

export interface TotalsServiceOptions {
  manifests: ManifestRegistry;
  store: TotalsStore;
  clock: Clock;
  k: number;
  noise?: NoiseOptions | undefined;
}

export const DEFAULT_WINDOW: WindowKind = 'week';
export const DEFAULT_SERIES_LENGTH = 12;

const bad = (code: string, message: string) => new HttpError(code, message, 400);

export class TotalsService {
  constructor(private readonly o: TotalsServiceOptions) {}

  get k(): number {
    return this.o.k;
  }

  products(): string[] {
    return this.o.manifests.products();
  }

  manifest(product: unknown): Manifest {
    if (!ProductId.safeParse(product).success) throw bad('bad_product', 'a product id is 1-32 of [a-z0-9-], starting with a letter');
    const m = this.o.manifests.latest(product as string);
    if (!m) throw new HttpError('unknown_product', `unknown product "${String(product)}"`, 404);
    return m;
  }

  /** Every accepted manifest, all versions, ordered by product and version. */
  allManifests(): Manifest[] {
    return this.o.manifests.all().sort((a, b) => (a.product < b.product ? -1 : a.product > b.product ? 1 : a.version - b.version));
  }

  windowKind(param: unknown): WindowKind {
    if (param === undefined || param === '') return DEFAULT_WINDOW;
    if (!isWindowKind(param)) throw bad('bad_window', 'window is one of day, week, month');
    return param;
  }

  /** A period of `kind` (default: the latest complete one); periods that have not started are refused. */
  window(kind: WindowKind, param: unknown, name = 'period'): Window {
    if (param === undefined || param === '') return latestCompleteWindow(kind, this.o.clock());
    const example = kind === 'day' ? '2026-12-03' : kind === 'week' ? '2026-W49' : '2026-12';
    const w = typeof param === 'string' ? parsePeriod(kind, param) : null;
    if (!w) throw bad('bad_period', `${name} must be a ${kind} like ${example}`);
    if (w.from > dayOf(this.o.clock())) throw bad('bad_period', `${name} ${w.period} has not started yet`);
    return w;
  }

  private publish(m: Manifest, w: Window): Totals {
    return publishTotals(this.o.store.counts(m.product, w), m, w, {
      k: this.o.k, noise: this.o.noise, complete: isComplete(w, this.o.clock()),
    });
  }

  /** Folds in anything still queued (normally nothing: ingest drains on commit). */
  private catchUp(): void {
    this.o.store.drainAll();
  }

  totals(product: unknown, windowParam?: unknown, periodParam?: unknown): Totals {
    const m = this.manifest(product);
    const w = this.window(this.windowKind(windowParam), periodParam);
    this.catchUp();
    return this.publish(m, w);
  }

  series(product: unknown, fieldParam: unknown, windowParam?: unknown, fromParam?: unknown, toParam?: unknown): Series {
    const m = this.manifest(product);
    const kind = this.windowKind(windowParam);
    if (typeof fieldParam !== 'string' || !Object.hasOwn(m.fields, fieldParam))
      throw bad('bad_field', `field must be one of: ${Object.keys(m.fields).join(', ')}`);
    const to = this.window(kind, toParam, 'to');
    let windows: Window[];
    if (fromParam === undefined || fromParam === '') windows = windowsEndingWith(to, DEFAULT_SERIES_LENGTH);
    else {
      const r = windowRange(this.window(kind, fromParam, 'from'), to);
      if (typeof r === 'string') throw bad('bad_period', r);
      windows = r;
    }
    this.catchUp();
    return seriesOf(fieldParam, m.fields[fieldParam]!, windows.map((w) => this.publish(m, w)));
  }

  /** Headline numbers of every product's latest complete week. */
  summaries(): ProductSummary[] {
    this.catchUp();
    return this.products().map((product) => {
      const m = this.o.manifests.latest(product)!;
      const t = this.publish(m, latestCompleteWindow(DEFAULT_WINDOW, this.o.clock()));
      return {
        product, title: m.title, description: m.description, manifest: m.version, k: this.o.k,
        latest: { window: t.window, period: t.period, belowThreshold: t.belowThreshold, installations: t.installations, established: t.established },
      };
    });
  }

  /** The latest complete period of each kind (the dashboard's shortcuts). */
  latestPeriods(): Record<WindowKind, string> {
    const now = this.o.clock();
    return { day: latestCompleteWindow('day', now).period, week: latestCompleteWindow('week', now).period, month: latestCompleteWindow('month', now).period };
  }
}
