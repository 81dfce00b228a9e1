/**
 * The report: the one thing Beacon installations say, as signed JSON.
 * It carries labels only. `buildReport` is where exact values become labels,
 * and nothing it returns holds an exact number.
 */
import { z } from 'zod';
import { canonicalBytes } from './canonical.js';
import { fromBase64Url } from './base64.js';
import { BeaconError } from './errors.js';
import {
  FieldName, ProductId, Token, allowedSet, bucketLabel, ladderOf, truncateVersion, versionPattern,
  type FieldSpec, type Manifest,
} from './manifest.js';
import { dayOf, hourOf, isDay } from './time.js';

export const PROTOCOL_VERSION = 1;
export const PAYLOAD_TYPE = 'application/vnd.beacon.report.v1+json';

const Key = z
  .string()
  .length(43)
  .refine((s) => fromBase64Url(s)?.length === 32, 'key is the base64url (unpadded) of a 32-byte Ed25519 public key');

const Day = z.string().refine(isDay, 'period is a UTC day, YYYY-MM-DD');
const Hour = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:00:00Z$/, 'issued is a UTC time truncated to the hour, YYYY-MM-DDTHH:00:00Z')
  .refine((s) => isDay(s.slice(0, 10)) && Number(s.slice(11, 13)) < 24, 'issued is not a real time');

export const ReportValue = z.union([Token, z.array(Token).max(512)]);

/** The wire type. Strict: an unknown key could carry data nobody agreed to send. */
export const ReportSchema = z
  .strictObject({
    protocol: z.literal(PROTOCOL_VERSION),
    product: ProductId,
    manifest: z.number().int().min(1).max(1_000_000),
    period: Day,
    issued: Hour,
    seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    key: Key,
    values: z.record(FieldName, ReportValue),
  })
  .superRefine((r, ctx) => {
    if (Object.keys(r.values).length > 64) ctx.addIssue({ code: 'custom', path: ['values'], message: 'at most 64 values' });
    if (r.issued.slice(0, 10) !== r.period)
      ctx.addIssue({ code: 'custom', path: ['period'], message: 'period must be the UTC day of issued' });
  });

export type Report = z.infer<typeof ReportSchema>;
export type ReportValues = Report['values'];

export interface ValueProblem {
  path: string;
  message: string;
}

/** Checks report values against the manifest: only what it allows, every required field present. */
export function checkValues(manifest: Manifest, values: Record<string, unknown>): ValueProblem[] {
  const problems: ValueProblem[] = [];
  for (const name of Object.keys(values)) {
    if (!Object.hasOwn(manifest.fields, name)) problems.push({ path: `values.${name}`, message: `"${name}" is not a field of ${manifest.product} manifest ${manifest.version}` });
  }
  for (const [name, spec] of Object.entries(manifest.fields)) {
    const path = `values.${name}`;
    if (!Object.hasOwn(values, name)) {
      if (!spec.optional) problems.push({ path, message: `required field "${name}" is missing` });
      continue;
    }
    const v = values[name];
    if (spec.kind === 'features') {
      if (!Array.isArray(v)) { problems.push({ path, message: 'a feature set is an array' }); continue; }
      const vocab = allowedSet(spec);
      v.forEach((f, i) => {
        if (typeof f !== 'string' || !vocab.has(f)) problems.push({ path: `${path}[${i}]`, message: `"${String(f)}" is not in the vocabulary` });
        else if (i > 0 && !((v[i - 1] as string) < f)) problems.push({ path: `${path}[${i}]`, message: 'features are sorted and unique' });
      });
      continue;
    }
    if (typeof v !== 'string') { problems.push({ path, message: 'a label is a string' }); continue; }
    if (spec.kind === 'version') {
      if (!versionPattern(spec.precision).test(v)) problems.push({ path, message: `"${v}" is not a ${spec.precision} version` });
    } else if (!allowedSet(spec).has(v)) {
      problems.push({ path, message: `"${v}" is not an allowed value` });
    }
  }
  return problems;
}

/** Exact input for one field: a count, a category value, a version string, or a list of features. */
export type ExactValue = number | string | boolean | readonly string[];

/** Turns one exact input into its wire value, or throws a BeaconError naming the field. */
export function labelFor(name: string, spec: FieldSpec, exact: unknown): string | string[] {
  const fail = (message: string): never => { throw new BeaconError('bad_value', `${name}: ${message}`, name); };
  switch (spec.kind) {
    case 'range':
      if (typeof exact !== 'number' || !Number.isSafeInteger(exact) || exact < 0) return fail('expected a non-negative integer');
      return bucketLabel(ladderOf(spec), exact);
    case 'category': {
      // Case is folded so that raw input such as "en_US" or "EE" matches the lower-case list.
      const v = typeof exact === 'boolean' ? String(exact) : typeof exact === 'string' ? exact.toLowerCase() : exact;
      if (typeof v !== 'string') return fail(`expected one of ${spec.values.join(', ')}`);
      if (spec.values.includes(v)) return v;
      if (spec.values.includes('other')) return 'other';
      return fail(`"${v.slice(0, 40)}" is not one of ${spec.values.join(', ')}`);
    }
    case 'version': {
      if (typeof exact !== 'string') return fail('expected a version string');
      return truncateVersion(exact, spec.precision) ?? fail(`"${exact.slice(0, 40)}" is not a version number`);
    }
    case 'features': {
      if (!Array.isArray(exact) || exact.some((f) => typeof f !== 'string')) return fail('expected an array of strings');
      const vocab = new Set(spec.vocabulary);
      // Features outside the vocabulary (a private plugin's name, say) are dropped, never sent.
      return [...new Set(exact as string[])].filter((f) => vocab.has(f)).sort();
    }
  }
}

export interface ReportMeta {
  /** The installation's public key, base64url. */
  key: string;
  seq: number;
  /** The instant the report is made; `issued` is it truncated to the hour, `period` its UTC day. */
  now: number;
}

/**
 * Builds a report from exact values. Unknown input fields are an error, not silently
 * dropped: a typo must not hide a value the admin thinks is being sent.
 */
export function buildReport(manifest: Manifest, exact: Record<string, unknown>, meta: ReportMeta): Report {
  if (exact === null || typeof exact !== 'object' || Array.isArray(exact)) throw new BeaconError('bad_value', 'values must be an object of field -> exact value');
  const unknown = Object.keys(exact).filter((k) => !Object.hasOwn(manifest.fields, k));
  if (unknown.length) throw new BeaconError('unknown_field', `not in the ${manifest.product} manifest: ${unknown.join(', ')}`, unknown[0]);
  const values: Record<string, string | string[]> = {};
  for (const [name, spec] of Object.entries(manifest.fields)) {
    if (!Object.hasOwn(exact, name) || exact[name] === undefined || exact[name] === null) {
      if (spec.optional) continue;
      throw new BeaconError('missing_field', `required field "${name}" is missing`, name);
    }
    values[name] = labelFor(name, spec, exact[name]);
  }
  const report: Report = {
    protocol: PROTOCOL_VERSION,
    product: manifest.product,
    manifest: manifest.version,
    period: dayOf(meta.now),
    issued: hourOf(meta.now),
    seq: meta.seq,
    key: meta.key,
    values,
  };
  const parsed = ReportSchema.safeParse(report);
  if (!parsed.success) throw new BeaconError('bad_value', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return report;
}

/** The exact bytes that are signed: the RFC 8785 canonical JSON of the report. */
export function reportBytes(report: Report): Uint8Array {
  return canonicalBytes(report);
}
