/**
 * Interoperability with Ed25519 implementations nobody here wrote: OpenSSL's command line
 * signs PAE bytes that `beacon verify` accepts, and libsodium (python3-nacl) verifies what
 * `beacon report` signs. Missing tools fail these tests; .ci/run installs them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, loadManifestDir } from '../src/manifests.js';
import { fromBase64, fromBase64Url, toBase64 } from '../src/protocol/base64.js';
import { pae, signPayload, keyPairFromSeed } from '../src/protocol/envelope.js';
import { PAYLOAD_TYPE } from '../src/protocol/report.js';
import { verifyEnvelope } from '../src/protocol/verify.js';
import { beacon, previewPayload, runProgram, type CliResult } from './helpers/beacon-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'beacon-interop-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const VALUES = join(PACKAGE_ROOT, 'config', 'examples', 'operately.json');

/** Runs a tool, turning "not installed" into a failure that says what to install. */
async function tool(cmd: string, args: string[], input?: string, pkg = cmd): Promise<CliResult> {
  try {
    return await runProgram(cmd, args, input);
  } catch (e) {
    throw new Error(`${cmd} could not be run (${(e as Error).message}): install it with apt-get install ${pkg}`);
  }
}

/** The DSSE v1 PAE, written out from the spec here rather than taken from src/. */
function specPae(payloadType: string, body: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
}

async function newKey(): Promise<{ path: string; publicKey: string }> {
  const path = join(mkdtempSync(join(tmp, 'key-')), 'beacon.key');
  const r = await beacon(['keygen', '--key', path]);
  expect(r.code, r.stderr).toBe(0);
  return { path, publicKey: r.stdout.trim() };
}

const reportArgs = (key: string, now: string) => ['--product', 'operately', '--values', VALUES, '--key', key, '--now', now];

/**
 * Verifies an envelope with libsodium. The PAE is built in Python from the DSSE formula,
 * and the key is the one inside the payload (never keyid). Exit 0 = valid, 3 = bad signature.
 */
const LIBSODIUM_VERIFY = String.raw`
import sys, json, base64
from nacl.signing import VerifyKey
from nacl.exceptions import BadSignatureError
env = json.loads(sys.stdin.buffer.read())
ptype = env["payloadType"].encode("utf-8")
body = base64.b64decode(env["payload"], validate=True)
pae = b"DSSEv1 " + str(len(ptype)).encode() + b" " + ptype + b" " + str(len(body)).encode() + b" " + body
key = json.loads(body)["key"]
pk = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
sig = base64.b64decode(env["signatures"][0]["sig"], validate=True)
try:
    VerifyKey(pk).verify(pae, sig)
except BadSignatureError:
    print("bad signature")
    sys.exit(3)
print("ok")
`;

describe('OpenSSL command line', () => {
  it('reads the key beacon keygen writes (PKCS#8 PEM) and derives the same public key', async () => {
    const { path, publicKey } = await newKey();
    const r = await tool('openssl', ['pkey', '-in', path, '-pubout']);
    expect(r.code, r.stderr).toBe(0);
    // SubjectPublicKeyInfo (RFC 8410): the raw 32-byte key is its last 32 bytes.
    const der = Buffer.from(r.stdout.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    expect(der.length).toBe(44);
    expect(toBase64(der.subarray(-32))).toBe(toBase64(fromBase64Url(publicKey)!));
  });

  it('signs PAE bytes into an envelope that beacon verify and verifyEnvelope accept', async () => {
    const { path, publicKey } = await newKey();
    const now = new Date().toISOString();
    const pre = await beacon(['preview', ...reportArgs(path, now)]);
    expect(pre.code, pre.stderr).toBe(0);
    const payload = Buffer.from(previewPayload(pre.stdout), 'utf8');
    const signed = specPae(PAYLOAD_TYPE, payload);
    // The spec's formula and ours agree, byte for byte.
    expect(Buffer.from(pae(PAYLOAD_TYPE, payload)).equals(signed)).toBe(true);

    const paeFile = join(tmp, 'pae.bin');
    const sigFile = join(tmp, 'sig.bin');
    writeFileSync(paeFile, signed);
    const s = await tool('openssl', ['pkeyutl', '-sign', '-rawin', '-inkey', path, '-in', paeFile, '-out', sigFile]);
    expect(s.code, s.stderr).toBe(0);
    const sig = readFileSync(sigFile);
    expect(sig.length).toBe(64);

    const envelope = JSON.stringify({
      payloadType: PAYLOAD_TYPE,
      payload: payload.toString('base64'),
      signatures: [{ keyid: publicKey, sig: sig.toString('base64') }],
    });
    const v = await beacon(['verify', '-'], envelope);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).key).toBe(publicKey);
    const lib = verifyEnvelope(envelope, { manifests: loadManifestDir() });
    expect(lib.ok, JSON.stringify(!lib.ok && lib.error)).toBe(true);

    // Ed25519 is deterministic: beacon report (tweetnacl) makes the very same signature.
    const rep = await beacon(['report', ...reportArgs(path, now)]);
    expect(rep.code, rep.stderr).toBe(0);
    expect(JSON.parse(rep.stdout).signatures[0].sig).toBe(sig.toString('base64'));

    // And libsodium accepts OpenSSL's envelope too.
    const sodium = await py(LIBSODIUM_VERIFY, [], envelope);
    expect(sodium.code, sodium.stderr).toBe(0);
  });

  it('verifies what beacon report signs, and refuses it changed', async () => {
    const { path } = await newKey();
    const rep = await beacon(['report', ...reportArgs(path, new Date().toISOString())]);
    expect(rep.code, rep.stderr).toBe(0);
    const env = JSON.parse(rep.stdout);
    const payload = Buffer.from(fromBase64(env.payload)!);
    const pubPem = join(tmp, 'pub.pem');
    const p = await tool('openssl', ['pkey', '-in', path, '-pubout', '-out', pubPem]);
    expect(p.code, p.stderr).toBe(0);
    const check = async (body: Buffer) => {
      writeFileSync(join(tmp, 'v-pae.bin'), specPae(PAYLOAD_TYPE, body));
      writeFileSync(join(tmp, 'v-sig.bin'), fromBase64(env.signatures[0].sig)!);
      return (await tool('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', pubPem, '-rawin', '-in', join(tmp, 'v-pae.bin'), '-sigfile', join(tmp, 'v-sig.bin')])).code;
    };
    expect(await check(payload)).toBe(0);
    const changed = Buffer.from(payload);
    changed[changed.length - 3]! ^= 0x01;
    expect(await check(changed)).not.toBe(0);
  });
});

/** A python3 that has PyNaCl: `python3` on PATH, else Debian's own (PATH may point at another Python). */
let python: Promise<string> | undefined;
function findPython(): Promise<string> {
  python ??= (async () => {
    for (const candidate of ['python3', '/usr/bin/python3']) {
      const r = await runProgram(candidate, ['-c', 'import nacl.signing'], '').catch(() => null);
      if (r?.code === 0) return candidate;
    }
    throw new Error('no python3 with PyNaCl found: apt-get install python3-nacl (.ci/run does)');
  })();
  return python;
}

/** Runs a Python script under the PyNaCl-capable python3. */
async function py(script: string, args: string[], input: string): Promise<CliResult> {
  return runProgram(await findPython(), ['-c', script, ...args], input);
}

describe('libsodium (python3-nacl)', () => {
  it('verifies an envelope made by beacon report; a flipped byte fails', async () => {
    const { path } = await newKey();
    const rep = await beacon(['report', ...reportArgs(path, new Date().toISOString())]);
    expect(rep.code, rep.stderr).toBe(0);
    const env = JSON.parse(rep.stdout);

    const ok = await py(LIBSODIUM_VERIFY, [], rep.stdout);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe('ok');

    const payload = Buffer.from(fromBase64(env.payload)!);
    const flippedPayload = Buffer.from(payload);
    // A byte inside a label, so the payload stays JSON and the signature is what fails.
    flippedPayload[payload.indexOf('"seq":1') + 6]! ^= 0x03;
    const sig = Buffer.from(fromBase64(env.signatures[0].sig)!);
    sig[0]! ^= 0x80;
    for (const bad of [{ ...env, payload: flippedPayload.toString('base64') }, { ...env, signatures: [{ ...env.signatures[0], sig: sig.toString('base64') }] }]) {
      const r = await py(LIBSODIUM_VERIFY, [], JSON.stringify(bad));
      expect(r.code, r.stderr).toBe(3);
    }
  });

  it('agrees with tweetnacl on a fixed RFC 8032 key', async () => {
    // RFC 8032 §7.1 test 1 secret key: the same seed in both libraries gives the same signature.
    const keys = keyPairFromSeed(Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'));
    const env = signPayload(PAYLOAD_TYPE, Buffer.from('{"any":"bytes"}'), keys);
    const script = String.raw`
import sys, base64
from nacl.signing import SigningKey
sk = SigningKey(bytes.fromhex(sys.argv[1]))
body = sys.stdin.buffer.read()
t = sys.argv[2].encode()
pae = b"DSSEv1 " + str(len(t)).encode() + b" " + t + b" " + str(len(body)).encode() + b" " + body
print(base64.b64encode(sk.sign(pae).signature).decode())
`;
    const r = await py(script, [Buffer.from(keys.seed).toString('hex'), PAYLOAD_TYPE], '{"any":"bytes"}');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(env.signatures[0]!.sig);
  });
});
