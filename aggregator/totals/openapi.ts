/**
 * The OpenAPI 3.1 document of the public, read-only API. Its schemas are generated
 * from the same zod schemas the server's responses are typed with (schema.ts and the
 * protocol's ManifestSchema); a test validates real responses against it.
 */
import { z } from 'zod';
import { ManifestSchema } from '../../src/protocol/manifest.js';
import {
  KeyDocSchema, ProductsSchema, SeriesSchema, SignedTotalsSchema, TOTALS_PAYLOAD_TYPE, TotalsSchema,
} from './schema.js';

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, description: string) => ({ description, content: { 'application/json': { schema } } });
const csv = { 'text/csv': { schema: { type: 'string' } } };
const error = (description: string) => json(ref('Error'), description);

const productParam = { name: 'product', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,31}$' } };
const windowParam = {
  name: 'window', in: 'query', required: false, description: 'day, week (ISO 8601) or month; default week.',
  schema: { type: 'string', enum: ['day', 'week', 'month'] },
};
const formatParam = { name: 'format', in: 'query', required: false, schema: { type: 'string', enum: ['json', 'csv'] } };
const cacheHeaders = {
  ETag: { schema: { type: 'string' } },
  'Cache-Control': { schema: { type: 'string' } },
  'Access-Control-Allow-Origin': { schema: { type: 'string', const: '*' } },
};

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Beacon aggregator: public community totals',
      version: '1.0.0',
      description:
        'Read-only, anonymized totals of self-hosted installations. A cell below the threshold k is never published ' +
        '(count null, suppressed true); complementary suppression keeps it from being recovered by subtraction; a window ' +
        'with fewer than k installations publishes only that fact (belowThreshold). Every response allows any origin (CORS) ' +
        'and carries an ETag. Totals can be fetched signed (DSSE, Ed25519) with ?signed=1; the key is at /api/v1/key.',
    },
    paths: {
      '/api/v1/products': {
        get: {
          summary: 'Products with the headline numbers of their latest published week (by default the latest final one)',
          responses: { 200: { ...json(ref('Products'), 'The products'), headers: cacheHeaders } },
        },
      },
      '/api/v1/manifests': {
        get: {
          summary: 'Every accepted product manifest (all versions): what installations may report',
          responses: { 200: json({ type: 'object', properties: { manifests: { type: 'array', items: ref('Manifest') } }, required: ['manifests'], additionalProperties: false }, 'The manifests') },
        },
      },
      '/api/v1/manifests/{product}': {
        get: {
          summary: "The product's newest manifest",
          parameters: [productParam],
          responses: { 200: json(ref('Manifest'), 'The manifest'), 400: error('Bad product id'), 404: error('Unknown product') },
        },
      },
      '/api/v1/products/{product}/totals': {
        get: {
          summary: 'Totals of one window: installations, established, per field and per feature counts',
          parameters: [
            productParam,
            windowParam,
            { name: 'period', in: 'query', required: false, description: '2026-12-03, 2026-W49 or 2026-12 to match window; default the latest published one. By default only final windows (no report can be accepted for them any more) are published; others answer 400 not_final.', schema: { type: 'string', maxLength: 10 } },
            formatParam,
            { name: 'signed', in: 'query', required: false, description: `1: the document as a DSSE envelope (${TOTALS_PAYLOAD_TYPE}) signed by the aggregator's key.`, schema: { type: 'string', enum: ['0', '1'] } },
          ],
          responses: {
            200: {
              description: 'The totals (JSON), its signed envelope (signed=1) or CSV (format=csv)',
              headers: cacheHeaders,
              content: { 'application/json': { schema: { oneOf: [ref('Totals'), ref('SignedTotals')] } }, ...csv },
            },
            400: error('Bad parameters, or a window not published yet (not_final)'),
            404: error('Unknown product'),
          },
        },
      },
      '/api/v1/products/{product}/series': {
        get: {
          summary: "One field's totals over consecutive periods (e.g. version adoption)",
          parameters: [
            productParam,
            { name: 'field', in: 'query', required: true, schema: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,47}$' } },
            windowParam,
            { name: 'from', in: 'query', required: false, description: 'First period; default 11 periods before `to`.', schema: { type: 'string', maxLength: 10 } },
            { name: 'to', in: 'query', required: false, description: 'Last period; default the latest published one (a later one: 400 not_final).', schema: { type: 'string', maxLength: 10 } },
            formatParam,
          ],
          responses: {
            200: { description: 'The series', headers: cacheHeaders, content: { 'application/json': { schema: ref('Series') }, ...csv } },
            400: error('Bad parameters, or a window not published yet (not_final)'),
            404: error('Unknown product'),
          },
        },
      },
      '/api/v1/key': {
        get: { summary: "The aggregator's public signing key", responses: { 200: json(ref('Key'), 'The key') } },
      },
      '/api/v1/openapi.json': {
        get: { summary: 'This document', responses: { 200: json({ type: 'object' }, 'OpenAPI 3.1') } },
      },
    },
    components: {
      schemas: {
        Totals: jsonSchema(TotalsSchema),
        SignedTotals: jsonSchema(SignedTotalsSchema),
        Series: jsonSchema(SeriesSchema),
        Products: jsonSchema(ProductsSchema),
        Manifest: jsonSchema(ManifestSchema),
        Key: jsonSchema(KeyDocSchema),
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string' }, message: { type: 'string' } },
            },
          },
        },
      },
    },
  };
}
