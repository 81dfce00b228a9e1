/**
 * Wire types of the public totals API. These zod schemas are the single source of
 * truth: the TypeScript types are inferred from them and the OpenAPI document's
 * schemas are generated from them (openapi.ts), so the two cannot drift apart.
 */
import { z } from 'zod';
import { FieldName, ProductId } from '../../src/protocol/manifest.js';
import { WINDOW_KINDS } from './windows.js';

export const TOTALS_PAYLOAD_TYPE = 'application/vnd.beacon.totals.v1+json';

const Count = z.number().int().min(0).max(1e12);
const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const Period = z.string().regex(/^\d{4}-(\d{2}-\d{2}|W\d{2}|\d{2})$/);
const Label = z.string().min(1).max(64);

export const CellSchema = z.strictObject({
  /** A ladder label, a listed value, a truncated version, a feature token, or `other`. */
  label: Label,
  /** null when suppressed. */
  count: Count.nullable(),
  suppressed: z.boolean(),
});

export const AbsentSchema = z.strictObject({
  count: Count.nullable(),
  suppressed: z.boolean(),
});

export const FieldTotalsSchema = z.strictObject({
  name: FieldName,
  kind: z.enum(['range', 'category', 'version', 'features']),
  /** For features: one cell per vocabulary token, counting installations that have it. */
  cells: z.array(CellSchema).max(1024),
  /** Installations that did not report the field (null for feature sets, which are not a partition). */
  absent: AbsentSchema.nullable(),
});

export const NoiseInfoSchema = z
  .strictObject({ mechanism: z.literal('laplace'), epsilon: z.number().positive().max(1e6) })
  .nullable();

export const TotalsSchema = z.strictObject({
  product: ProductId,
  /** The manifest version whose labels the cells use. */
  manifest: z.number().int().min(1).max(1_000_000),
  window: z.enum(WINDOW_KINDS),
  period: Period,
  from: Day,
  to: Day,
  /** False while the window has not ended yet (its numbers can still grow). */
  complete: z.boolean(),
  /** True once no report for the window can be accepted any more: its numbers will not change. */
  final: z.boolean(),
  k: z.number().int().min(1).max(1_000_000),
  noise: NoiseInfoSchema,
  /** True when the window has fewer than k installations: then nothing else is published. */
  belowThreshold: z.boolean(),
  installations: Count.nullable(),
  /** Installations first seen at least 7 days before the window ends (null if suppressed). */
  established: Count.nullable(),
  fields: z.array(FieldTotalsSchema).max(64),
});

export type Cell = z.infer<typeof CellSchema>;
export type FieldTotals = z.infer<typeof FieldTotalsSchema>;
export type Totals = z.infer<typeof TotalsSchema>;

export const SeriesPointSchema = z.strictObject({
  period: Period,
  from: Day,
  to: Day,
  complete: z.boolean(),
  final: z.boolean(),
  belowThreshold: z.boolean(),
  installations: Count.nullable(),
  cells: z.array(CellSchema).max(1024),
  absent: AbsentSchema.nullable(),
});

export const SeriesSchema = z.strictObject({
  product: ProductId,
  field: FieldName,
  kind: z.enum(['range', 'category', 'version', 'features']),
  window: z.enum(WINDOW_KINDS),
  from: Period,
  to: Period,
  k: z.number().int().min(1).max(1_000_000),
  noise: NoiseInfoSchema,
  points: z.array(SeriesPointSchema).max(400),
});

export type SeriesPoint = z.infer<typeof SeriesPointSchema>;
export type Series = z.infer<typeof SeriesSchema>;

export const ProductSummarySchema = z.strictObject({
  product: ProductId,
  title: z.string().max(100),
  description: z.string().max(1000),
  manifest: z.number().int().min(1).max(1_000_000),
  k: z.number().int().min(1).max(1_000_000),
  /** Headline numbers of the latest published week (the latest final one by default). */
  latest: z.strictObject({
    window: z.enum(WINDOW_KINDS),
    period: Period,
    belowThreshold: z.boolean(),
    installations: Count.nullable(),
    established: Count.nullable(),
  }),
});

export type ProductSummary = z.infer<typeof ProductSummarySchema>;

export const ProductsSchema = z.strictObject({ products: z.array(ProductSummarySchema).max(10_000) });

export const SignedTotalsSchema = z.strictObject({
  payloadType: z.literal(TOTALS_PAYLOAD_TYPE),
  payload: z.string().max(10_000_000),
  signatures: z.array(z.strictObject({ keyid: z.string().max(256), sig: z.string().max(256) })).length(1),
});

export const KeyDocSchema = z.strictObject({
  algorithm: z.literal('Ed25519'),
  /** Raw 32-byte public key, base64url without padding (also the envelopes' keyid). */
  keyid: z.string().length(43),
  /** The same key as SubjectPublicKeyInfo PEM, for OpenSSL and other tools. */
  pem: z.string().max(200),
  payloadType: z.literal(TOTALS_PAYLOAD_TYPE),
  /** How to check a signed totals document. */
  verification: z.string().max(1000),
});

export type KeyDoc = z.infer<typeof KeyDocSchema>;
