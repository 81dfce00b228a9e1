/**
 * `createBeacon`: what a self-hosted app embeds. Exact values come in through `collect()`,
 * become labels in `buildReport`, are signed, kept in the state directory, served at the
 * well-known path and pushed to targets. Every timer callback and promise is caught: a
 * beacon that fails logs and tries later, it never throws into the host.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Koa from 'koa';
import { envelopeJson, signReport, type Envelope } from '../protocol/envelope.js';
import { BeaconError } from '../protocol/errors.js';
import { buildReport, reportBytes, type Report } from '../protocol/report.js';
import { DEFAULT_MAX_AGE_MS } from '../protocol/verify.js';
import { resolveOptions, type BeaconConfig, type BeaconMode, type BeaconOptions, type ExactValues } from './options.js';
import { Outbox, type OutboxEntry } from './outbox.js';
import { backoffMs, pushEnvelope, type PushOutcome } from './push.js';
import { CronSchedule, randomDailyCron } from './schedule.js';
import { StateDir, currentFrom, type Current, type Delivery, type ScheduleState } from './state.js';
import { answerWellKnown, wellKnownHandler, wellKnownMiddleware } from './wellknown.js';

export interface BeaconFailure {
  ok: false;
  /** `disabled`, `collect_failed`, `collect_timeout`, `state_error`, or a report builder's code (`missing_field`, `bad_value`, ...). */
  code: string;
  message: string;
}

export interface DeliveryResult {
  target: string;
  outcome: Delivery['outcome'];
  status?: number;
  error?: string;
}

export type RunResult =
  | { ok: true; report: Report; envelope: Envelope; payload: Uint8Array; deliveries: DeliveryResult[] }
  | BeaconFailure;

export type PreviewResult = { ok: true; report: Report; bytes: Uint8Array; text: string } | BeaconFailure;

export interface TickResult {
  /** True when the schedule was due and a report was built. */
  ran: boolean;
  run?: RunResult;
  /** Push attempts made (new reports and retries). */
  attempts: number;
}

export interface BeaconStatus {
  enabled: boolean;
  disabledBy: 'option' | 'env' | null;
  mode: BeaconMode;
  product: string;
  manifest: number;
  running: boolean;
  /** The installation's public key (base64url), null while disabled. */
  publicKey: string | null;
  schedule: string | null;
  nextRun: string | null;
  lastRun: string | null;
  lastReport: { seq: number; period: string; issued: string; values: Report['values'] } | null;
  targets: { target: string; lastDelivery: Delivery | null; pending: number }[];
  outbox: number;
  /** The last state or run problem, null when healthy. */
  error: { code: string; message: string } | null;
}

export interface Beacon {
  /** Starts the schedule (a timer that never keeps the process alive). */
  start(): void;
  /** Stops timers and aborts pushes in flight; resolves when no run is in progress. Closes nothing of the host's. */
  stop(): Promise<void>;
  /** Collect, build, sign, keep as current, push. Never throws. */
  runOnce(): Promise<RunResult>;
  /** Exactly the bytes the next run would sign (same seq and clock), without consuming seq or writing files. */
  preview(): Promise<PreviewResult>;
  /** Runs the schedule if due and retries due pushes, as the timer does; for hosts and tests that drive time. */
  tick(): Promise<TickResult>;
  status(): BeaconStatus;
  /** The last signed envelope (also in local mode), or null. */
  current(): Envelope | null;
  /** koa middleware answering GET /.well-known/beacon. */
  middleware(): Koa.Middleware;
  /** node:http handler: answers /.well-known/beacon and returns true, else returns false without touching res. */
  handler(): (req: IncomingMessage, res: ServerResponse) => boolean;
}

interface Live {
  state: StateDir;
  schedule: CronSchedule;
  scheduleState: ScheduleState;
  nextRun: number | null;
  outbox: Outbox | null;
  deliveries: Record<string, Delivery>;
  current: Current | null;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).slice(0, 500);
const codeOf = (e: unknown, fallback: string) => (e instanceof BeaconError ? e.code : fallback);
/**
 * The last run, unless it lies more than an hour ahead of `now`: then the clock had jumped
 * ahead when it ran, and scheduling from it would stop reports until the clock caught up.
 */
const lastRunBefore = (s: ScheduleState, now: number) => (s.lastRun !== undefined && s.lastRun - now <= 3_600_000 ? s.lastRun : undefined);
const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

export function createBeacon(options: BeaconOptions): Beacon {
  const cfg: BeaconConfig = resolveOptions(options);
  const { log, clock } = cfg;
  let live: Live | null = null;
  let lastError: { code: string; message: string } | null = null;
  let started = false;
  let timer: NodeJS.Timeout | null = null;
  let aborter = new AbortController();
  let queue: Promise<unknown> = Promise.resolve();

  const fail = (code: string, msg: string): BeaconFailure => {
    lastError = { code, message: msg };
    return { ok: false, code, message: msg };
  };
  const disabled = (): BeaconFailure => ({ ok: false, code: 'disabled', message: `beacon is disabled (by ${cfg.disabledBy === 'env' ? 'BEACON_ENABLED' : 'options.enabled'})` });

  /** Runs `fn` after everything queued before it: runs, retries and previews never interleave. */
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = queue.then(fn, fn);
    queue = p.catch(() => {});
    return p;
  }

  /** Opens the state directory once; until it works, every run reports `state_error` and tries again. */
  function open(): Live {
    if (live) return live;
    try {
      const state = new StateDir(cfg.stateDir);
      const scheduleState = state.readSchedule();
      let expression = cfg.schedule;
      if (expression === undefined) {
        if (!scheduleState.cron) {
          scheduleState.cron = randomDailyCron(cfg.random);
          state.writeSchedule(scheduleState);
        }
        expression = scheduleState.cron;
      }
      const schedule = new CronSchedule(expression);
      const outbox = cfg.mode === 'publish'
        ? new Outbox(state.outboxDir, cfg.outboxLimit, DEFAULT_MAX_AGE_MS, (e, why) =>
            log('warn', 'beacon report dropped from outbox', { why, ...(e ? { period: e.period } : {}) }))
        : null;
      // Reports queued for a target the host no longer configures are not sent there.
      for (const e of outbox?.list() ?? []) if (!cfg.targets.includes(e.target)) outbox!.remove(e);
      // A run missed while the app was down happens at once; a first start waits for the schedule.
      const nextRun = schedule.nextAfter(lastRunBefore(scheduleState, clock()) ?? clock());
      live = { state, schedule, scheduleState, nextRun, outbox, deliveries: state.readDeliveries(), current: state.readCurrent() };
      if (lastError?.code === 'state_error') lastError = null;
      return live;
    } catch (e) {
      const msg = `state directory ${cfg.stateDir}: ${message(e)}`;
      if (lastError?.message !== msg) log('error', 'beacon cannot open its state directory', { err: msg });
      lastError = { code: 'state_error', message: msg };
      throw new BeaconError('state_error', msg);
    }
  }

  async function collect(): Promise<ExactValues> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new BeaconError('collect_timeout', `collect() took over ${cfg.collectTimeoutMs} ms`)), cfg.collectTimeoutMs);
    });
    try {
      const exact = await Promise.race([Promise.resolve().then(cfg.collect), timeout]);
      if (exact === null || typeof exact !== 'object' || Array.isArray(exact)) throw new BeaconError('bad_value', 'collect() must return an object of field -> exact value');
      const version = cfg.manifest.fields['version'];
      if (version && cfg.appVersion !== undefined && (exact['version'] === undefined || exact['version'] === null))
        return { ...exact, version: cfg.appVersion };
      return exact;
    } finally {
      clearTimeout(t);
    }
  }

  /** Collects and builds the report the next run would sign, with the next seq. */
  async function build(l: Live): Promise<{ report: Report } | BeaconFailure> {
    let exact: ExactValues;
    try {
      exact = await collect();
    } catch (e) {
      // The message is the host's own; exact values are not logged here.
      return fail(codeOf(e, 'collect_failed'), `collect(): ${message(e)}`);
    }
    try {
      return { report: buildReport(cfg.manifest, exact, { key: l.state.publicKey, seq: l.state.seq.current() + 1, now: clock() }) };
    } catch (e) {
      return fail(codeOf(e, 'bad_value'), message(e));
    }
  }

  async function runLocked(): Promise<RunResult> {
    if (!cfg.enabled) return disabled();
    let l: Live;
    try {
      l = open();
    } catch (e) {
      return fail('state_error', message(e));
    }
    const built = await build(l);
    if ('ok' in built) return built;
    let { report } = built;
    let json: string;
    let envelope: Envelope;
    try {
      const seq = l.state.seq.next(); // durable before anything is signed with it
      // Another beacon on this state directory may have used the seq we built with.
      if (seq !== report.seq) report = { ...report, seq };
      envelope = signReport(report, l.state.keys);
      json = envelopeJson(envelope);
      l.state.writeCurrent(json);
      l.current = currentFrom(Buffer.from(json));
      const now = clock();
      for (const target of l.outbox ? cfg.targets : [])
        l.outbox!.put({ target, period: report.period, seq: report.seq, builtAt: now, body: json, attempts: 0, nextAttempt: now }, now);
    } catch (e) {
      log('error', 'beacon could not store its report', { err: message(e) });
      return fail('state_error', message(e));
    }
    lastError = null;
    log('info', 'beacon report built', { seq: report.seq, period: report.period, mode: cfg.mode });
    return { ok: true, report, envelope, payload: reportBytes(report), deliveries: [] };
  }

  function record(l: Live, e: OutboxEntry, o: PushOutcome): DeliveryResult {
    const now = clock();
    const base = { at: now, period: e.period, seq: e.seq };
    let d: Delivery;
    if (o.kind === 'delivered') {
      l.outbox!.remove(e);
      d = { ...base, outcome: 'delivered', status: o.status };
      log('info', 'beacon report delivered', { target: e.target, status: o.status, seq: e.seq });
    } else if (o.kind === 'permanent') {
      l.outbox!.remove(e);
      d = { ...base, outcome: 'dropped', status: o.status };
      log('warn', 'beacon report refused by target; dropped', { target: e.target, status: o.status, seq: e.seq });
    } else {
      const attempts = e.attempts + 1;
      const wait = Math.min(cfg.retryMaxMs, Math.max(backoffMs(attempts, { baseMs: cfg.retryBaseMs, maxMs: cfg.retryMaxMs }, cfg.random), o.retryAfterMs ?? 0));
      const lastError = o.status !== undefined ? `http_${o.status}` : o.error ?? 'network_error';
      l.outbox!.update({ ...e, attempts, nextAttempt: now + wait, lastError });
      d = { ...base, outcome: 'retrying', attempts, ...(o.status !== undefined ? { status: o.status } : { error: lastError }) };
      log('warn', 'beacon push failed; will retry', { target: e.target, error: lastError, attempts, retryInMs: wait });
    }
    l.deliveries[e.target] = d;
    return { target: e.target, outcome: d.outcome, ...(d.status !== undefined ? { status: d.status } : {}), ...(d.error ? { error: d.error } : {}) };
  }

  /** Pushes every due outbox entry (all targets in parallel) and records the outcomes. */
  async function flushLocked(l: Live): Promise<DeliveryResult[]> {
    if (!l.outbox) return [];
    l.outbox.trim(clock());
    const due = l.outbox.due(clock());
    if (due.length === 0) return [];
    const signal = aborter.signal;
    const results = await Promise.all(due.map(async (e) => record(l, e, await pushEnvelope(cfg.fetch, e.target, e.body, cfg.timeoutMs, signal))));
    try {
      l.state.writeDeliveries(l.deliveries);
    } catch (e) {
      log('warn', 'beacon could not save delivery status', { err: message(e) });
    }
    return results;
  }

  async function tickLocked(): Promise<TickResult> {
    if (!cfg.enabled) return { ran: false, attempts: 0 };
    let l: Live;
    try {
      l = open();
    } catch {
      return { ran: false, attempts: 0 };
    }
    const now = clock();
    let run: RunResult | undefined;
    // The clock came back from a jump ahead: forget the bogus last run and schedule from now.
    if (l.scheduleState.lastRun !== undefined && lastRunBefore(l.scheduleState, now) === undefined) {
      delete l.scheduleState.lastRun;
      l.nextRun = l.schedule.nextAfter(now);
    }
    if (l.nextRun !== null && now >= l.nextRun) {
      l.scheduleState.lastRun = now;
      l.nextRun = l.schedule.nextAfter(now);
      try {
        l.state.writeSchedule(l.scheduleState);
      } catch (e) {
        log('warn', 'beacon could not save its schedule', { err: message(e) });
      }
      run = await runLocked();
      if (!run.ok) log('warn', 'scheduled beacon run failed', { code: run.code, err: run.message });
    }
    const delivered = await flushLocked(l);
    if (run?.ok) run.deliveries.push(...delivered);
    return run ? { ran: true, run, attempts: delivered.length } : { ran: false, attempts: delivered.length };
  }

  function arm(): void {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!started) return;
    const now = clock();
    const wants = [live?.nextRun ?? null, live?.outbox?.earliest() ?? null].filter((t): t is number => t !== null);
    const due = wants.length ? Math.min(...wants) : Infinity;
    const delay = Math.max(1, Math.min(cfg.maxSleepMs, due - now));
    timer = setTimeout(() => {
      timer = null;
      exclusive(tickLocked)
        .catch((e) => log('error', 'beacon tick failed', { err: message(e) }))
        .finally(arm);
    }, delay);
    timer.unref(); // the beacon never keeps the host's process alive
  }

  const served = () => (cfg.enabled && cfg.mode === 'publish' ? live?.current ?? null : null);
  const answer = (method: string, inm: string | undefined) => answerWellKnown(method, inm, served());

  if (cfg.enabled) {
    try {
      open();
    } catch {
      // logged in open(); retried on every run and tick
    }
  }

  return {
    start() {
      if (!cfg.enabled) {
        log('info', 'beacon disabled; not scheduling', { by: cfg.disabledBy });
        return;
      }
      if (started) return;
      started = true;
      arm();
    },
    async stop() {
      started = false;
      if (timer) clearTimeout(timer);
      timer = null;
      aborter.abort();
      aborter = new AbortController(); // for runs after stop(); the aborted ones stay in the outbox
      await queue;
      live?.schedule.close();
    },
    runOnce: () =>
      exclusive(async () => {
        const r = await runLocked();
        if (r.ok && live) r.deliveries.push(...(await flushLocked(live)));
        return r;
      }).catch((e) => fail('internal', message(e))),
    preview: () =>
      exclusive(async (): Promise<PreviewResult> => {
        if (!cfg.enabled) return disabled();
        const built = await build(open());
        if ('ok' in built) return built;
        const bytes = reportBytes(built.report);
        return { ok: true, report: built.report, bytes, text: Buffer.from(bytes).toString('utf8') };
      }).catch((e) => fail(codeOf(e, 'internal'), message(e))),
    tick: () => exclusive(tickLocked).catch((e) => {
      log('error', 'beacon tick failed', { err: message(e) });
      return { ran: false, attempts: 0 };
    }),
    status(): BeaconStatus {
      const c = live?.current ?? null;
      return {
        enabled: cfg.enabled,
        disabledBy: cfg.disabledBy,
        mode: cfg.mode,
        product: cfg.manifest.product,
        manifest: cfg.manifest.version,
        running: started,
        publicKey: live?.state.publicKey ?? null,
        schedule: live?.schedule.expression ?? cfg.schedule ?? null,
        nextRun: cfg.enabled ? iso(live?.nextRun) : null,
        lastRun: iso(live?.scheduleState.lastRun),
        lastReport: c ? { seq: c.report.seq, period: c.report.period, issued: c.report.issued, values: c.report.values } : null,
        targets: cfg.mode === 'publish' ? cfg.targets.map((target) => ({
          target,
          lastDelivery: live?.deliveries[target] ?? null,
          pending: live?.outbox?.list().filter((e) => e.target === target).length ?? 0,
        })) : [],
        outbox: live?.outbox?.size ?? 0,
        error: lastError,
      };
    },
    current: () => live?.current?.envelope ?? null,
    middleware: () => wellKnownMiddleware(answer),
    handler: () => wellKnownHandler(answer),
  };
}
