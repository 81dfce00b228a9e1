/** Strict base64 (RFC 4648 §4, padded) and base64url (§5, unpadded) codecs. */
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const B64URL = /^[A-Za-z0-9_-]*$/;

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Decodes padded base64; returns null for anything that is not its canonical spelling. */
export function fromBase64(text: string): Uint8Array | null {
  if (!B64.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  // Reject non-zero trailing bits: one byte string has exactly one encoding.
  return bytes.toString('base64') === text ? new Uint8Array(bytes) : null;
}

/** Decodes unpadded base64url; returns null for anything that is not its canonical spelling. */
export function fromBase64Url(text: string): Uint8Array | null {
  if (!B64URL.test(text) || text.length % 4 === 1) return null;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? new Uint8Array(bytes) : null;
}
