/**
 * DSSE v1 envelopes (secure-systems-lab/dsse, protocol.md). `pae` is the one function
 * that makes the bytes a signature covers; signing and verification use only it.
 */
import nacl from 'tweetnacl';
import { z } from 'zod';
import { toBase64, toBase64Url } from './base64.js';
import { PAYLOAD_TYPE, reportBytes, type Report } from './report.js';

/** Envelopes over this many bytes are refused before anything is parsed. */
export const MAX_ENVELOPE_BYTES = 16 * 1024;

export const EnvelopeSchema = z.strictObject({
  payloadType: z.string().max(256),
  payload: z.string().max(MAX_ENVELOPE_BYTES),
  // Beacon envelopes carry exactly one signature: the installation's own.
  signatures: z
    .array(z.strictObject({ keyid: z.string().max(256).optional(), sig: z.string().max(256) }))
    .length(1, 'exactly one signature'),
});

export type Envelope = z.infer<typeof EnvelopeSchema>;

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN in ASCII decimal bytes. */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = Buffer.from(payloadType, 'utf8');
  const head = Buffer.from(`DSSEv1 ${type.length} ${payloadType} ${payload.length} `, 'utf8');
  return new Uint8Array(Buffer.concat([head, payload]));
}

export interface KeyPair {
  /** 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  /** 32-byte seed (RFC 8032 secret key). */
  seed: Uint8Array;
}

export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  if (seed.length !== 32) throw new RangeError('an Ed25519 seed is 32 bytes');
  const kp = nacl.sign.keyPair.fromSeed(seed);
  return { publicKey: kp.publicKey, seed: new Uint8Array(seed) };
}

export function generateKeyPair(): KeyPair {
  return keyPairFromSeed(nacl.randomBytes(32));
}

/** Signs already-serialized payload bytes. Installations sign with tweetnacl (pure JS, no native code). */
export function signPayload(payloadType: string, payload: Uint8Array, keys: KeyPair): Envelope {
  const secret = nacl.sign.keyPair.fromSeed(keys.seed).secretKey;
  const sig = nacl.sign.detached(pae(payloadType, payload), secret);
  return {
    payloadType,
    payload: toBase64(payload),
    signatures: [{ keyid: toBase64Url(keys.publicKey), sig: toBase64(sig) }],
  };
}

/** Signs a report: its canonical bytes, wrapped in a DSSE envelope. */
export function signReport(report: Report, keys: KeyPair): Envelope {
  if (report.key !== toBase64Url(keys.publicKey)) throw new RangeError('report.key is not the signing key');
  return signPayload(PAYLOAD_TYPE, reportBytes(report), keys);
}

/** The envelope as it goes on the wire (compact JSON, fixed key order). */
export function envelopeJson(envelope: Envelope): string {
  return JSON.stringify({ payloadType: envelope.payloadType, payload: envelope.payload, signatures: envelope.signatures });
}
