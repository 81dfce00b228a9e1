/**
 * The totals service: request parameters in, published documents out. Reads only
 * materialized counts (TotalsStore), applies suppression and noise, and raises
 * HttpErrors with stable codes for bad parameters (400) and unknown products (404).
 */
import type { Manifest } from '../../src/protocol/manifest.js';
import { ProductId } from '../../src/protocol/manifest.js';
import type { ManifestRegistry } from '../../src/protocol/registry.js';
import { addDays, dayOf, type Clock } from '../../src/protocol/time.js';
import { HttpError } from '../../src/server/http.js';
import { publishTotals } from './compute.js';
import type { ProductSummary, Series, Totals } from './schema.js';
import { seriesOf } from './series.js';
import type { PublishMode } from './config.js';
import type { NoiseOptions } from './suppress.js';
import type { TotalsStore } from './store.js';
import {
  WINDOW_KINDS, finalFrom, isComplete, isFinal, isWindowKind, latestFinalWindow, latestCompleteWindow, parsePeriod, windowRange,
  windowsEndingWith, type Window, type WindowKind,
} from './windows.js';

export interface TotalsServiceOptions {
  manifests: ManifestRegistry;
  store: TotalsStore;
  clock: Clock;
  k: number;
  noise?: NoiseOptions | undefined;
  /** Which windows are served (config totals.publish; see docs/TOTALS.md). */
  publish: PublishMode;
  /** Reports are accepted for today and this many days back: a window is final after that. */
  periodWindowDays: number;
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

  /**
   * A period of `kind` (default: the latest published one). Periods that have not started are
   * refused (bad_period); so, unless `publish` is "live", is one not yet published (not_final):
   * "complete" serves ended windows, "final" only windows no report can be accepted for any
   * more, so that nobody can watch a window's numbers move around one installation's report.
   */
  window(kind: WindowKind, param: unknown, name = 'period', published = true): Window {
    if (param === undefined || param === '') return this.latestWindow(kind);
    const example = kind === 'day' ? '2026-12-03' : kind === 'week' ? '2026-W49' : '2026-12';
    const w = typeof param === 'string' ? parsePeriod(kind, param) : null;
    if (!w) throw bad('bad_period', `${name} must be a ${kind} like ${example}`);
    if (w.from > dayOf(this.o.clock())) throw bad('bad_period', `${name} ${w.period} has not started yet`);
    if (published && !this.isPublished(w)) {
      const from = this.publishedFrom(w);
      const why = this.o.publish === 'final'
        ? `reports for it are accepted until ${addDays(from, -1)}, so its numbers can still change`
        : 'it is not over yet';
      throw bad('not_final', `${name} ${w.period} is not published yet: ${why}; it will be published from ${from}`);
    }
    return w;
  }

  /** The first day on which `w` is served. */
  private publishedFrom(w: Window): string {
    return this.o.publish === 'final' ? finalFrom(w, this.o.periodWindowDays) : addDays(w.to, 1);
  }

  private isPublished(w: Window): boolean {
    const now = this.o.clock();
    if (this.o.publish === 'live') return true;
    return this.o.publish === 'final' ? isFinal(w, now, this.o.periodWindowDays) : isComplete(w, now);
  }

  /** The default window of a kind: the latest final one, or the latest complete one ("complete", "live"). */
  latestWindow(kind: WindowKind): Window {
    const now = this.o.clock();
    return this.o.publish === 'final' ? latestFinalWindow(kind, now, this.o.periodWindowDays) : latestCompleteWindow(kind, now);
  }

  private publish(m: Manifest, w: Window): Totals {
    return publishTotals(this.o.store.counts(m.product, w), m, w, {
      k: this.o.k, noise: this.o.noise, complete: isComplete(w, this.o.clock()), final: isFinal(w, this.o.clock(), this.o.periodWindowDays),
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
      // Only `to` needs to be published: an earlier `from` then is too, and a later one is bad_period below.
      const r = windowRange(this.window(kind, fromParam, 'from', false), to);
      if (typeof r === 'string') throw bad('bad_period', r);
      windows = r;
    }
    this.catchUp();
    return seriesOf(fieldParam, m.fields[fieldParam]!, windows.map((w) => this.publish(m, w)));
  }

  /** Headline numbers of every product's latest published week. */
  summaries(): ProductSummary[] {
    this.catchUp();
    return this.products().map((product) => {
      const m = this.o.manifests.latest(product)!;
      const t = this.publish(m, this.latestWindow(DEFAULT_WINDOW));
      return {
        product, title: m.title, description: m.description, manifest: m.version, k: this.o.k,
        latest: { window: t.window, period: t.period, belowThreshold: t.belowThreshold, installations: t.installations, established: t.established },
      };
    });
  }

  /** The latest published period of each kind (the dashboard's shortcuts, and the last it links to). */
  latestPeriods(): Record<WindowKind, string> {
    return Object.fromEntries(WINDOW_KINDS.map((kind) => [kind, this.latestWindow(kind).period])) as Record<WindowKind, string>;
  }
}
