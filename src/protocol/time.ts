/** UTC calendar helpers. Beacon never sends a time finer than the hour. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The UTC day (`YYYY-MM-DD`) containing the instant `ms`. */
export function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The instant truncated to the hour, as `YYYY-MM-DDTHH:00:00Z`. */
export function hourOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 13) + ':00:00Z';
}

/** True when `text` is a real calendar day written as `YYYY-MM-DD`. */
export function isDay(text: string): boolean {
  const m = DAY_RE.exec(text);
  if (!m) return false;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isFinite(ms) && dayOf(ms) === text;
}

/** Milliseconds at 00:00 UTC of a `YYYY-MM-DD` day. */
export function dayStart(day: string): number {
  return Date.parse(day + 'T00:00:00Z');
}

export function addDays(day: string, n: number): string {
  return dayOf(dayStart(day) + n * 86_400_000);
}
