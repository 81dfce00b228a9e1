/**
 * Product manifests: the published allow-list of what a product's installations
 * may report. Only three kinds of field exist, and none of them can carry free text:
 *   - range:    an exact count goes in, a bucket label from a fixed ladder comes out;
 *   - category: a value from a closed list (or a version number cut to a fixed precision);
 *   - features: a subset of a closed vocabulary.
 */
import { z } from 'zod';

export const DEFAULT_LADDER = [0, 1, 11, 51, 201, 1001, 5001] as const;

export const ProductId = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a product id is 1-32 of [a-z0-9-], starting with a letter');
export const FieldName = z.string().regex(/^[a-z][a-z0-9_]{0,47}$/, 'a field name is 1-48 of [a-z0-9_], starting with a letter');
/** Values and features are short tokens, never prose. */
export const Token = z.string().regex(/^[a-z0-9][a-z0-9._+-]{0,47}$/, 'a value is 1-48 of [a-z0-9._+-], starting with a letter or digit');
const Description = z.string().min(1).max(1000);

// List checks live on the lists themselves, not in a manifest-wide refinement: zod skips a
// refinement once any sibling is invalid, and a bad manifest must report every problem at once.
const Ladder = z
  .array(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER))
  .min(2)
  .max(32)
  .superRefine((ladder, ctx) => {
    if (ladder[0] !== 0) ctx.addIssue({ code: 'custom', path: [0], message: 'a ladder starts at 0' });
    ladder.forEach((b, i) => {
      if (i > 0 && b <= ladder[i - 1]!) ctx.addIssue({ code: 'custom', path: [i], message: 'ladder bounds must be strictly increasing' });
    });
  });

const closedList = (max: number) =>
  z
    .array(Token)
    .min(1)
    .max(max)
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((v, i) => {
        if (seen.has(v)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate value "${v}"` });
        seen.add(v);
      });
    });

const RangeField = z.strictObject({
  kind: z.literal('range'),
  description: Description,
  optional: z.boolean().optional(),
  /** Lower bounds of contiguous buckets; starts at 0, strictly increasing. Default DEFAULT_LADDER. */
  ladder: Ladder.optional(),
});

const CategoryField = z.strictObject({
  kind: z.literal('category'),
  description: Description,
  optional: z.boolean().optional(),
  /** The closed list. If it contains "other", unlisted input maps to "other" instead of failing. */
  values: closedList(256),
});

const VersionField = z.strictObject({
  kind: z.literal('version'),
  description: Description,
  optional: z.boolean().optional(),
  /** How much of `MAJOR.MINOR.PATCH` is sent; suffixes (`-ee`, `+build`, names) never are. */
  precision: z.enum(['major', 'minor', 'patch']),
});

const FeaturesField = z.strictObject({
  kind: z.literal('features'),
  description: Description,
  optional: z.boolean().optional(),
  /** The closed vocabulary. Input features outside it are dropped, never sent. */
  vocabulary: closedList(512),
});

export const FieldSpec = z.discriminatedUnion('kind', [RangeField, CategoryField, VersionField, FeaturesField]);

export const ManifestSchema = z.strictObject({
  product: ProductId,
  version: z.number().int().min(1).max(1_000_000),
  title: z.string().min(1).max(100),
  description: Description,
  /** Data the product's own telemetry has that Beacon deliberately leaves out, and why. */
  omitted: z.array(z.strictObject({ field: z.string().min(1).max(100), why: Description })).max(64).optional(),
  fields: z.record(FieldName, FieldSpec).superRefine(
    (fields, ctx) => {
      const n = Object.keys(fields).length;
      if (n === 0) ctx.addIssue({ code: 'custom', message: 'a manifest declares at least one field' });
      if (n > 64) ctx.addIssue({ code: 'custom', message: 'a manifest declares at most 64 fields' });
    },
    // Count the fields even when some of them are invalid.
    { when: (p) => p.value !== null && typeof p.value === 'object' },
  ),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type FieldSpec = z.infer<typeof FieldSpec>;

export interface ManifestProblem {
  path: string;
  message: string;
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

/** Validates a manifest and reports every problem at once. */
export function validateManifest(input: unknown): { ok: true; manifest: Manifest } | { ok: false; problems: ManifestProblem[] } {
  const r = ManifestSchema.safeParse(input);
  if (r.success) return { ok: true, manifest: r.data };
  return { ok: false, problems: r.error.issues.map((i) => ({ path: formatPath(i.path) || '(manifest)', message: i.message })) };
}

/** The ladder's lower bounds, default if the manifest declares none. */
export function ladderOf(spec: { ladder?: number[] | undefined }): readonly number[] {
  return spec.ladder ?? DEFAULT_LADDER;
}

/** Labels of a ladder: `0`, `1-10`, ..., `5001+`. */
export function ladderLabels(ladder: readonly number[]): string[] {
  return ladder.map((lo, i) => {
    const next = ladder[i + 1];
    if (next === undefined) return `${lo}+`;
    const hi = next - 1;
    return hi === lo ? `${lo}` : `${lo}-${hi}`;
  });
}

/** Maps an exact non-negative integer to its bucket label. The exact value goes no further. */
export function bucketLabel(ladder: readonly number[], exact: number): string {
  if (!Number.isSafeInteger(exact) || exact < 0) throw new RangeError('a range metric takes a non-negative safe integer');
  let i = 0;
  while (i + 1 < ladder.length && exact >= ladder[i + 1]!) i++;
  return ladderLabels(ladder)[i]!;
}

// A leading "v" or "go" (Go's runtime.Version(), "go1.16.5") is accepted and dropped.
const VERSION_IN = /^(?:v|go)?(\d{1,6})(?:\.(\d{1,6}))?(?:\.(\d{1,6}))?(?!\d)/;

/** Cuts a version string to the declared precision: "13.12.0-ee" -> "13.12" (minor). */
export function truncateVersion(input: string, precision: 'major' | 'minor' | 'patch'): string | null {
  const m = VERSION_IN.exec(input.trim());
  if (!m) return null;
  const parts = [m[1], m[2] ?? '0', m[3] ?? '0'].map((p) => String(Number(p)));
  const n = precision === 'major' ? 1 : precision === 'minor' ? 2 : 3;
  return parts.slice(0, n).join('.');
}

const VERSION_PATTERNS = (() => {
  const part = '(0|[1-9]\\d{0,5})';
  const make = (n: number) => new RegExp('^' + Array(n).fill(part).join('\\.') + '$');
  return { major: make(1), minor: make(2), patch: make(3) } as const;
})();

/** The wire pattern of a version field (built once: verification calls this per report). */
export function versionPattern(precision: 'major' | 'minor' | 'patch'): RegExp {
  return VERSION_PATTERNS[precision];
}

const ALLOWED_SETS = new WeakMap<FieldSpec, ReadonlySet<string>>();

/** allowedValues as a Set, cached per field spec (manifests are immutable once loaded). */
export function allowedSet(spec: FieldSpec): ReadonlySet<string> {
  let set = ALLOWED_SETS.get(spec);
  if (!set) ALLOWED_SETS.set(spec, (set = new Set(allowedValues(spec) ?? [])));
  return set;
}

/** Every value a field may take on the wire (null for version fields, which follow a pattern). */
export function allowedValues(spec: FieldSpec): string[] | null {
  switch (spec.kind) {
    case 'range':
      return ladderLabels(ladderOf(spec));
    case 'category':
      return spec.values;
    case 'features':
      return spec.vocabulary;
    case 'version':
      return null;
  }
}
