/**
 * Time windows of the public totals: a UTC `day` (2026-12-03), an ISO-8601 `week`
 * (2026-W49; weeks start on Monday and belong to the year of their Thursday, so
 * 2026-12-31 is in 2026-W53 and 2027-01-01 too), and a calendar `month` (2026-12).
 * Pure functions over `YYYY-MM-DD` strings; no local time zone is ever consulted.
 */
import { addDays, dayOf, dayStart, isDay } from '../../src/protocol/time.js';

export const WINDOW_KINDS = ['day', 'week', 'month'] as const;
export type WindowKind = (typeof WINDOW_KINDS)[number];

export interface Window {
  kind: WindowKind;
  /** `2026-12-03`, `2026-W49` or `2026-12`. */
  period: string;
  /** First day, inclusive. */
  from: string;
  /** Last day, inclusive. */
  to: string;
}

/** The most periods one series request may span (a day series of ~13 months). */
export const MAX_SERIES_PERIODS = 400;

export function isWindowKind(text: unknown): text is WindowKind {
  return typeof text === 'string' && (WINDOW_KINDS as readonly string[]).includes(text);
}

/** 0 = Monday ... 6 = Sunday. */
function isoWeekday(day: string): number {
  return (new Date(dayStart(day)).getUTCDay() + 6) % 7;
}

/** ISO week-year and week number of a day. */
export function isoWeekOf(day: string): { year: number; week: number } {
  const thursday = addDays(day, 3 - isoWeekday(day));
  const year = Number(thursday.slice(0, 4));
  const jan1 = `${String(year).padStart(4, '0')}-01-01`;
  const week = Math.floor((dayStart(thursday) - dayStart(jan1)) / (7 * 86_400_000)) + 1;
  return { year, week };
}

/** Monday of ISO week 1 of `year`: the week that holds January 4th. */
function week1Monday(year: number): string {
  const jan4 = `${String(year).padStart(4, '0')}-01-04`;
  return addDays(jan4, -isoWeekday(jan4));
}

/** 52 or 53: a year has 53 ISO weeks when December 28th falls in week 53. */
export function weeksInYear(year: number): number {
  return isoWeekOf(`${String(year).padStart(4, '0')}-12-28`).week;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

const WEEK_RE = /^(\d{4})-W(\d{2})$/;
const MONTH_RE = /^(\d{4})-(\d{2})$/;

/** Parses a period of the given kind; null if it is not a real one (2026-W54, 2026-13, 2026-02-30). */
export function parsePeriod(kind: WindowKind, period: string): Window | null {
  if (typeof period !== 'string' || period.length > 10) return null;
  switch (kind) {
    case 'day':
      return isDay(period) && period >= '1970-01-01' ? { kind, period, from: period, to: period } : null;
    case 'week': {
      const m = WEEK_RE.exec(period);
      if (!m) return null;
      const year = Number(m[1]);
      const week = Number(m[2]);
      if (year < 1970 || week < 1 || week > weeksInYear(year)) return null;
      const from = addDays(week1Monday(year), 7 * (week - 1));
      return { kind, period, from, to: addDays(from, 6) };
    }
    case 'month': {
      const m = MONTH_RE.exec(period);
      if (!m) return null;
      const year = Number(m[1]);
      const month = Number(m[2]);
      if (year < 1970 || month < 1 || month > 12) return null;
      return { kind, period, from: `${m[1]}-${m[2]}-01`, to: `${m[1]}-${m[2]}-${String(daysInMonth(year, month)).padStart(2, '0')}` };
    }
  }
}

/** The period of the given kind that contains `day`. */
export function periodOf(kind: WindowKind, day: string): string {
  switch (kind) {
    case 'day':
      return day;
    case 'week': {
      const { year, week } = isoWeekOf(day);
      return `${String(year).padStart(4, '0')}-W${String(week).padStart(2, '0')}`;
    }
    case 'month':
      return day.slice(0, 7);
  }
}

/** The window of the given kind that contains `day`. */
export function windowOf(kind: WindowKind, day: string): Window {
  return parsePeriod(kind, periodOf(kind, day))!;
}

/** Every day of a window, in order. */
export function daysOf(w: Window): string[] {
  const days: string[] = [];
  for (let d = w.from; d <= w.to; d = addDays(d, 1)) days.push(d);
  return days;
}

export function nextWindow(w: Window): Window {
  return windowOf(w.kind, addDays(w.to, 1));
}

export function previousWindow(w: Window): Window {
  return windowOf(w.kind, addDays(w.from, -1));
}

/** The window before `w`, or null before the first one (periods start in 1970). */
export function earlierWindow(w: Window): Window | null {
  return parsePeriod(w.kind, periodOf(w.kind, addDays(w.from, -1)));
}

/** The latest window that has fully ended by the instant `now` (ms): yesterday, last week, last month. */
export function latestCompleteWindow(kind: WindowKind, now: number): Window {
  return latestWindowBefore(kind, dayOf(now));
}

/** The latest window of `kind` whose last day is before `day`. */
export function latestWindowBefore(kind: WindowKind, day: string): Window {
  return previousWindow(windowOf(kind, day));
}

/** The first day from which no report for `w` is accepted any more (reports are accepted
 * for today and `periodWindowDays` days back): from then on its numbers cannot change. */
export function finalFrom(w: Window, periodWindowDays: number): string {
  return addDays(w.to, periodWindowDays + 1);
}

/** True once no report for the window can be accepted: its last day < today - periodWindowDays. */
export function isFinal(w: Window, now: number, periodWindowDays: number): boolean {
  return finalFrom(w, periodWindowDays) <= dayOf(now);
}

/** The latest final window of `kind` at the instant `now` (ms). */
export function latestFinalWindow(kind: WindowKind, now: number, periodWindowDays: number): Window {
  return latestWindowBefore(kind, addDays(dayOf(now), -periodWindowDays));
}

/** True once the window's last day has ended. */
export function isComplete(w: Window, now: number): boolean {
  return w.to < dayOf(now);
}

/**
 * The windows from `from` to `to` inclusive (both of the same kind, from <= to), or an
 * error message; bounded by MAX_SERIES_PERIODS so a request cannot ask for a century of days.
 */
export function windowRange(from: Window, to: Window): Window[] | string {
  if (from.kind !== to.kind) return 'from and to must be periods of the same window kind';
  if (from.from > to.from) return 'from must not be after to';
  const out: Window[] = [];
  for (let w = from; w.from <= to.from; w = nextWindow(w)) {
    if (out.length >= MAX_SERIES_PERIODS) return `a series spans at most ${MAX_SERIES_PERIODS} periods`;
    out.push(w);
  }
  return out;
}

/** The `count` windows ending with `last`, oldest first (fewer if the calendar starts sooner). */
export function windowsEndingWith(last: Window, count: number): Window[] {
  const out = [last];
  for (let w = earlierWindow(last); w && out.length < count; w = earlierWindow(w)) out.unshift(w);
  return out;
}
