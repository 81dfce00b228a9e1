/**
 * One push of one envelope to one target, classified so the outbox knows what to do:
 * delivered (2xx), permanent (3xx, 4xx: the receiver will never take it, so retrying is noise),
 * or retry (5xx, 408/429, network errors, timeouts).
 */
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal; redirect: 'manual' }) => Promise<{ status: number; headers: { get(name: string): string | null } }>;

export type PushOutcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'permanent'; status: number }
  | { kind: 'retry'; status?: number; error?: string; retryAfterMs?: number };

/** `<target>/v1/reports`, with the target's trailing slashes ignored. */
export function reportsUrl(target: string): string {
  return `${target.replace(/\/+$/, '')}/v1/reports`;
}

/** Checks and normalizes a push target: an http(s) base URL without query or fragment. */
export function normalizeTarget(target: string): string | null {
  if (typeof target !== 'string' || target.length > 2000) return null;
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    return null;
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash || u.username || u.password) return null;
  return u.href.replace(/\/+$/, '');
}

export async function pushEnvelope(fetchFn: FetchLike, target: string, body: string, timeoutMs: number, stop?: AbortSignal): Promise<PushOutcome> {
  const signals = [AbortSignal.timeout(timeoutMs)];
  if (stop) signals.push(stop);
  try {
    const res = await fetchFn(reportsUrl(target), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.any(signals),
      // Never follow: a redirect would carry the report (and the host's address) to a
      // server the admin did not configure. A 3xx is answered like a 4xx: fix the target.
      redirect: 'manual',
    });
    // The answer's body does not matter here: discard it unread. Draining it would let a
    // receiver stream gigabytes into the host's memory until the timeout.
    const answer = (res as { body?: { cancel?: () => Promise<unknown> } | null }).body;
    await answer?.cancel?.().catch(() => {});
    const status = res.status;
    if (status >= 200 && status < 300) return { kind: 'delivered', status };
    if (status === 408 || status === 425 || status === 429 || status >= 500) {
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      return retryAfterMs === undefined ? { kind: 'retry', status } : { kind: 'retry', status, retryAfterMs };
    }
    return { kind: 'permanent', status };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const error = err.name === 'TimeoutError' ? 'timeout' : err.name === 'AbortError' ? 'aborted' : err.cause?.code ?? err.name ?? 'network_error';
    return { kind: 'retry', error: String(error).slice(0, 64) };
  }
}

function parseRetryAfter(value: string | null): number | undefined {
  if (!value || !/^\d{1,7}$/.test(value.trim())) return undefined;
  return Number(value.trim()) * 1000;
}

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Exponential backoff with jitter: attempt n waits base * 2^(n-1), capped, times [0.5, 1). */
export function backoffMs(attempts: number, policy: BackoffPolicy, random: () => number): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.max(1, Math.round(exp * (0.5 + r / 2)));
}
