/**
 * Stable error codes of the Beacon protocol. Tests and clients match on `code`,
 * never on `message`. HTTP statuses for them live in one place: `httpStatusFor`.
 */
export const ERROR_CODES = [
  'too_large',
  'bad_json',
  'bad_envelope',
  'bad_payload_type',
  'bad_signature',
  'unknown_product',
  'unknown_manifest_version',
  'schema_violation',
  'stale',
  'from_future',
] as const;

export type ProtocolErrorCode = (typeof ERROR_CODES)[number];

export interface ProtocolError {
  code: ProtocolErrorCode;
  message: string;
  /** For schema_violation: the path of the offending field, e.g. "values.users". */
  path?: string;
}

/** Thrown by the library's builders (never by verification, which returns errors). */
export class BeaconError extends Error {
  readonly code: string;
  readonly path: string | undefined;
  constructor(code: string, message: string, path?: string) {
    super(message);
    this.name = 'BeaconError';
    this.code = code;
    this.path = path;
  }
}

/** The one mapping from protocol error codes to HTTP statuses. */
export function httpStatusFor(code: string): number {
  switch (code) {
    case 'too_large':
      return 413;
    case 'unsupported_media_type':
      return 415;
    case 'rate_limited':
      return 429;
    case 'replayed':
    case 'duplicate':
      return 409;
    case 'full':
    case 'unavailable':
      return 503;
    case 'timeout':
      return 408;
    case 'not_found':
      return 404;
    case 'method_not_allowed':
      return 405;
    case 'internal':
      return 500;
    default:
      return 400;
  }
}
