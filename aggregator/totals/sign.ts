/**
 * Signed totals: the aggregator signs each totals document with its own Ed25519 key
 * (a PKCS#8 PEM file, created on first use) as a DSSE envelope over the document's
 * RFC 8785 canonical JSON, so a mirror or a journalist can prove where numbers came from.
 */
import { createHash } from 'node:crypto';
import { toBase64Url } from '../../src/protocol/base64.js';
import { canonicalBytes } from '../../src/protocol/canonical.js';
import { signPayload, type Envelope, type KeyPair } from '../../src/protocol/envelope.js';
import { loadOrCreateKey } from '../../src/keyfile.js';
import { TOTALS_PAYLOAD_TYPE, type KeyDoc, type Totals } from './schema.js';

// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw 32-byte key follows.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface TotalsSigner {
  keys: KeyPair;
  keyDoc: KeyDoc;
  sign(totals: Totals): Envelope;
  /** A secret derived from the private key, for the deterministic noise source. */
  noiseSecret(): Uint8Array;
}

export function publicKeyPem(publicKey: Uint8Array): string {
  const der = Buffer.concat([SPKI_PREFIX, Buffer.from(publicKey)]).toString('base64');
  return `-----BEGIN PUBLIC KEY-----\n${der}\n-----END PUBLIC KEY-----\n`;
}

export function totalsSigner(keys: KeyPair): TotalsSigner {
  const keyid = toBase64Url(keys.publicKey);
  return {
    keys,
    keyDoc: {
      algorithm: 'Ed25519',
      keyid,
      pem: publicKeyPem(keys.publicKey),
      payloadType: TOTALS_PAYLOAD_TYPE,
      verification:
        'Verify the Ed25519 signature (base64) over DSSEv1 PAE(payloadType, payload bytes) with this key; ' +
        'the payload (base64) is the RFC 8785 canonical JSON of the totals document.',
    },
    sign: (totals) => signPayload(TOTALS_PAYLOAD_TYPE, canonicalBytes(totals), keys),
    noiseSecret: () => new Uint8Array(createHash('sha256').update('beacon-totals-noise\0').update(keys.seed).digest()),
  };
}

/** Loads the aggregator's key file (mode 0600), creating it on first start. */
export function loadTotalsSigner(keyPath: string): TotalsSigner {
  return totalsSigner(loadOrCreateKey(keyPath));
}
