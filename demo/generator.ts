/**
 * The demo's simulated fleet: for each installation, the exact values it would collect
 * on each day. Pure and seeded: the same seed, size and timeline give the same values,
 * so a test can recompute the ground truth the aggregator's totals must match.
 *
 * Shapes, so the dashboard looks like a real community's:
 *   - sizes are heavy-tailed (lognormal users: most installations have a handful of users,
 *     a few have thousands); the other counts are derived from users with their own spread;
 *   - versions are released along the timeline; an installation starts on a recent release
 *     and upgrades to the newest one with its own daily probability (a few eager admins,
 *     many slow ones), so newer versions gain share week by week;
 *   - most installations exist from the first day, the rest appear over time, and a few
 *     stop reporting (shut down) before the end.
 */
import { addDays } from '../src/protocol/time.js';

export type Rng = () => number;

/** mulberry32: a small, fast 32-bit PRNG with a good enough spread for simulation. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** splitmix32-style mixing: independent streams from one seed (stream = installation, purpose). */
export function deriveSeed(seed: number, ...stream: number[]): number {
  let h = seed >>> 0;
  for (const s of stream) {
    h = (h + 0x9e3779b9 + (s >>> 0)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

function normal(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

const lognormal = (rng: Rng, median: number, sigma: number) => median * Math.exp(sigma * normal(rng));

/** Picks a key of `weights` with probability proportional to its weight. */
export function weighted<T extends string>(rng: Rng, weights: Readonly<Record<T, number>>): T {
  const entries = Object.entries(weights) as [T, number][];
  const total = entries.reduce((s, [, w]) => s + w, 0);
  let r = rng() * total;
  for (const [k, w] of entries) {
    r -= w;
    if (r < 0) return k;
  }
  return entries[entries.length - 1]![0];
}

const int = (x: number) => Math.max(0, Math.round(x));

/** A release: its version string and the day it ships, counted back from the end of the replay. */
export interface Release {
  version: string;
  daysAgo: number;
}

/** An installation's latent state; the product model turns it into exact values. */
export interface Latent {
  /** Index into the product's releases. */
  release: number;
  users: number;
  /** Daily relative growth of users (can be slightly negative). */
  growth: number;
  /** Per-installation multipliers for derived counts, fixed at birth. */
  mult: number[];
  /** Fixed categorical choices, by name. */
  picks: Record<string, string>;
  /** Enabled features (a subset of the product's vocabulary). */
  features: string[];
}

export interface ProductModel {
  product: string;
  /** Share of the fleet. */
  share: number;
  releases: readonly Release[];
  /** Median and spread (sigma of the log) of users at birth. */
  usersMedian: number;
  usersSigma: number;
  /** Categorical fields and their weights, fixed per installation. */
  picks: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Feature -> probability that an installation has it at birth. */
  features: Readonly<Record<string, number>>;
  /** The exact values `collect()` returns for a latent state. */
  values(l: Latent): Record<string, unknown>;
}

const releases = (list: [string, number][]): Release[] => list.map(([version, daysAgo]) => ({ version, daysAgo }));

/** Feature popularity falling off along a list: the first few are common, the tail is rare. */
function popularity(names: readonly string[], top: number, decay: number): Record<string, number> {
  return Object.fromEntries(names.map((n, i) => [n, Math.max(0.02, top * decay ** i)]));
}

export const PRODUCT_MODELS: readonly ProductModel[] = [
  {
    product: 'operately',
    share: 0.35,
    releases: releases([['0.9.2', 150], ['1.0.0', 90], ['1.0.3', 62], ['1.1.0', 41], ['1.1.1', 27], ['1.2.0', 12], ['1.2.1', 4]]),
    usersMedian: 9,
    usersSigma: 1.5,
    picks: {
      os: { linux: 88, darwin: 5, windows: 3, freebsd: 2, other: 2 },
      architecture: { x86_64: 74, arm64: 24, other: 2 },
      deployment_type: { docker: 66, binary: 18, source: 11, other: 5 },
      runtime: { a: 60, b: 40 },
    },
    features: { notifications: 0.85, ai_features: 0.3, sso: 0.12 },
    values(l) {
      const [major, minor] = this.releases[l.release]!.version.split('.').map(Number) as [number, number];
      // Phase 2 fields came with 1.1: older releases do not send them.
      const phase2 = major > 1 || (major === 1 && minor >= 1);
      const newer = l.picks['runtime'] === 'a' || phase2;
      const base: Record<string, unknown> = {
        version: this.releases[l.release]!.version,
        elixir_version: newer ? '1.17.3' : '1.16.2',
        otp_version: newer ? '27.1.2' : '26.2.5',
        os: l.picks['os'],
        architecture: l.picks['architecture'],
        deployment_type: l.picks['deployment_type'],
        users: int(l.users),
      };
      if (!phase2) return base;
      const projects = int(l.users * 1.4 * l.mult[0]!);
      return {
        ...base,
        projects,
        goals: int(projects * 0.8 * l.mult[1]!),
        active_users_7d: int(l.users * Math.min(1, 0.45 * l.mult[2]!)),
        avg_response_time_ms: int(40 * l.mult[3]! * (1 + Math.log10(1 + l.users))),
        db_size_mb: int(25 * l.users * l.mult[4]!),
        features: l.features,
      };
    },
  },
  {
    product: 'nextcloud',
    share: 0.3,
    releases: releases([['29.0.8', 160], ['30.0.1', 95], ['30.0.4', 55], ['31.0.0', 33], ['31.0.2', 16], ['31.0.3', 3]]),
    usersMedian: 4,
    usersSigma: 1.4,
    picks: {
      php_version: { '8.1.31': 25, '8.2.26': 45, '8.3.14': 30 },
      database: { mysql: 55, pgsql: 20, sqlite: 20, oci: 1, other: 4 },
      webserver: { apache: 58, nginx: 36, caddy: 3, litespeed: 1, other: 2 },
      installation_method: { docker: 30, aio: 20, archive: 18, snap: 10, 'web-installer': 6, nextcloudpi: 6, package: 5, helm: 2, appliance: 1, other: 2 },
    },
    features: {
      ...popularity(['files', 'files_sharing', 'files_trashbin', 'files_versions', 'dashboard', 'activity', 'notifications', 'photos', 'viewer', 'text',
        'calendar', 'contacts', 'deck', 'notes', 'spreed', 'tasks', 'richdocuments', 'mail', 'forms', 'polls', 'memories', 'news', 'cookbook',
        'groupfolders', 'bookmarks', 'user_ldap', 'twofactor_totp', 'onlyoffice', 'music', 'maps'], 0.98, 0.88),
    },
    values(l) {
      return {
        version: this.releases[l.release]!.version,
        php_version: l.picks['php_version'],
        database: l.picks['database'],
        webserver: l.picks['webserver'],
        installation_method: l.picks['installation_method'],
        users: int(l.users),
        files: int(4000 * l.users * l.mult[0]!),
        apps_enabled: l.features,
      };
    },
  },
  {
    product: 'gitlab',
    share: 0.2,
    releases: releases([['17.2.9', 150], ['17.3.7', 120], ['17.4.5', 90], ['17.5.3', 62], ['17.6.1', 34], ['17.7.0', 13], ['17.7.1', 5]]),
    usersMedian: 14,
    usersSigma: 1.7,
    picks: {
      edition: { ce: 70, ee: 30 },
      installation_type: { 'omnibus-gitlab': 70, 'gitlab-helm-chart': 15, source: 5, 'gitlab-operator': 3, 'gitlab-development-kit': 2, other: 5 },
    },
    features: popularity(['smtp', 'container_registry', 'signup', 'gravatar', 'ldap', 'incoming_email', 'object_storage', 'prometheus', 'omniauth',
      'service_desk', 'gitlab_pages', 'reply_by_email', 'dependency_proxy', 'saml', 'mattermost', 'elasticsearch', 'kerberos', 'geo'], 0.85, 0.82),
    values(l) {
      const projects = int(3.5 * l.users * l.mult[0]!);
      return {
        version: this.releases[l.release]!.version,
        edition: l.picks['edition'],
        installation_type: l.picks['installation_type'],
        active_users: int(l.users * Math.min(1, 0.7 * l.mult[2]!)),
        projects,
        issues: int(18 * projects * l.mult[1]!),
        merge_requests: int(12 * projects * l.mult[3]!),
        integrations: l.features,
      };
    },
  },
  {
    product: 'discourse',
    share: 0.15,
    releases: releases([['3.2.5', 140], ['3.3.2', 80], ['3.3.3', 45], ['3.4.0', 24], ['3.4.1', 8]]),
    usersMedian: 60,
    usersSigma: 1.6,
    picks: {
      locale: { en: 58, de: 8, fr: 6, es: 5, pt_br: 4, ja: 3, zh_cn: 3, ru: 3, it: 2, nl: 2, pl_pl: 2, other: 4 },
      login_required: { false: 78, true: 22 },
    },
    features: popularity(['docker_manager', 'discourse-solved', 'discourse-reactions', 'discourse-assign', 'discourse-chat-integration',
      'discourse-data-explorer', 'discourse-calendar', 'discourse-ai', 'discourse-math', 'discourse-oauth2-basic', 'discourse-policy',
      'discourse-templates', 'discourse-gamification', 'discourse-saml', 'discourse-subscriptions'], 0.97, 0.8),
    values(l) {
      const topics = int(0.6 * l.users * l.mult[0]!);
      return {
        version: this.releases[l.release]!.version,
        locale: l.picks['locale'],
        login_required: l.picks['login_required'] === 'true',
        users: int(l.users),
        topics,
        posts: int(9 * topics * l.mult[1]!),
        active_users_7_days: int(l.users * Math.min(1, 0.12 * l.mult[2]!)),
        plugins: l.features,
      };
    },
  },
];

/** How an installation's reports reach the aggregator. */
export type DemoPath = 'crawled' | 'relay-a' | 'relay-b' | 'direct';
export const PATHS: readonly DemoPath[] = ['crawled', 'relay-a', 'relay-b', 'direct'];
const PATH_WEIGHTS: Record<DemoPath, number> = { crawled: 50, 'relay-a': 22, 'relay-b': 22, direct: 6 };

export interface FleetOptions {
  seed: number;
  installations: number;
  /** First simulated day (YYYY-MM-DD). */
  startDay: string;
  /** Days replayed; releases are placed relative to the end of this span, births and churn inside it. */
  days: number;
}

/** One simulated installation: fixed traits, and a state that only moves forward in time. */
export class SimInstallation {
  private latent: Latent | null = null;
  private day = -1;
  private readonly rng: Rng;

  constructor(
    readonly index: number,
    readonly model: ProductModel,
    readonly path: DemoPath,
    /** Day index (0 = startDay) of the first report. */
    readonly bornDay: number,
    /** Day index from which it no longer reports (shut down), or null. */
    readonly goneDay: number | null,
    /** Probability per day of upgrading to the newest release. */
    readonly upgradeRate: number,
    private readonly timelineDays: number,
    seed: number,
  ) {
    this.rng = mulberry32(seed);
  }

  /** True when the installation runs and reports on day index `d`. */
  alive(d: number): boolean {
    return d >= this.bornDay && (this.goneDay === null || d < this.goneDay);
  }

  /** The newest release shipped by day index `d`. */
  private newestRelease(d: number): number {
    const ago = this.timelineDays - d;
    let newest = 0;
    this.model.releases.forEach((r, i) => { if (r.daysAgo >= ago) newest = i; });
    return newest;
  }

  private birth(): Latent {
    const { rng, model } = this;
    const newest = this.newestRelease(this.bornDay);
    // Mostly one of the newest two or three releases; some stay on something older.
    let release = newest;
    while (release > 0 && rng() < 0.45) release--;
    const picks: Record<string, string> = {};
    for (const [name, w] of Object.entries(model.picks)) picks[name] = weighted(rng, w);
    const users = Math.max(1, lognormal(rng, model.usersMedian, model.usersSigma));
    const big = Math.log10(users); // larger installations enable more features
    const features = Object.entries(model.features).filter(([, p]) => rng() < Math.min(0.99, p * (0.7 + 0.15 * big))).map(([f]) => f);
    return {
      release,
      users,
      growth: 0.002 + 0.004 * normal(rng),
      mult: Array.from({ length: 5 }, () => lognormal(rng, 1, 0.5)),
      picks,
      features,
    };
  }

  private step(l: Latent, d: number): void {
    const { rng } = this;
    l.users = Math.max(1, l.users * (1 + l.growth + 0.01 * normal(rng)));
    const newest = this.newestRelease(d);
    if (l.release < newest && rng() < this.upgradeRate) l.release = newest;
    // Now and then an admin switches a feature on.
    const off = Object.keys(this.model.features).filter((f) => !l.features.includes(f));
    if (off.length && rng() < 0.01) l.features = [...l.features, off[Math.floor(rng() * off.length)]!].sort();
  }

  /**
   * The exact values collected on day index `d` (null when not alive). Days must be asked
   * in non-decreasing order: the state only moves forward, as a real installation's does.
   */
  valuesOn(d: number): Record<string, unknown> | null {
    if (!this.alive(d)) return null;
    if (d < this.day) throw new RangeError(`installation ${this.index}: day ${d} is before day ${this.day}`);
    if (!this.latent) {
      this.latent = this.birth();
      this.day = this.bornDay;
    }
    while (this.day < d) this.step(this.latent, ++this.day);
    return this.model.values(this.latent);
  }
}

export interface Fleet {
  options: FleetOptions;
  installations: SimInstallation[];
  /** Day index of a YYYY-MM-DD day (may be >= options.days in the live phase). */
  dayIndex(day: string): number;
  dayOfIndex(d: number): string;
}

export function createFleet(options: FleetOptions): Fleet {
  const { seed, installations: n, startDay, days } = options;
  const shares = Object.fromEntries(PRODUCT_MODELS.map((m) => [m.product, m.share])) as Record<string, number>;
  const installations: SimInstallation[] = [];
  for (let i = 0; i < n; i++) {
    const rng = mulberry32(deriveSeed(seed, i, 1));
    // Round-robin over the products for the first few, so even a tiny fleet covers them all.
    const product = i < PRODUCT_MODELS.length ? PRODUCT_MODELS[i]!.product : weighted(rng, shares);
    const model = PRODUCT_MODELS.find((m) => m.product === product)!;
    const path = i < PATHS.length ? PATHS[(i + 1) % PATHS.length]! : weighted(rng, PATH_WEIGHTS);
    const bornDay = rng() < 0.75 || days <= 1 ? 0 : 1 + Math.floor(rng() * (days - 1));
    const goneDay = rng() < 0.04 && bornDay + 1 < days ? bornDay + 1 + Math.floor(rng() * (days - bornDay - 1)) : null;
    // Upgrade eagerness: a few upgrade within days of a release, many take weeks or months.
    const upgradeRate = weighted(rng, { eager: 15, regular: 45, slow: 30, never: 10 } as const);
    const rate = { eager: 0.35, regular: 0.06, slow: 0.015, never: 0 }[upgradeRate];
    installations.push(new SimInstallation(i, model, path, bornDay, goneDay, rate, days, deriveSeed(seed, i, 2)));
  }
  const startMs = Date.parse(startDay + 'T00:00:00Z');
  return {
    options,
    installations,
    dayIndex: (day) => Math.round((Date.parse(day + 'T00:00:00Z') - startMs) / 86_400_000),
    dayOfIndex: (d) => addDays(startDay, d),
  };
}
