/**
 * The `beacon` command. Every failure is one line on stderr and a non-zero exit:
 * 1 for a refused input or operation, 2 for a command line that makes no sense.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BeaconError } from '../src/protocol/errors.js';
import { describeFsError, UsageError } from './io.js';
import { keygen, parseNow, preview, report, type ReportArgs } from './report.js';
import { verify } from './verify.js';

export const USAGE = `beacon: privacy-preserving, federated usage statistics for self-hosted software

Usage:
  beacon keygen --key FILE
      Create an installation key (PKCS#8 PEM, mode 0600) and print its public key.
  beacon report --product P --values FILE|- --key FILE [--manifests DIR] [--now ISO]
      Print the signed report envelope (DSSE JSON) for the exact values in FILE (- = stdin).
  beacon preview --product P --values FILE|- --key FILE [--manifests DIR] [--now ISO]
      Show what \`report\` would send, field by field, and the exact bytes it would sign.
  beacon verify FILE|- [--manifests DIR] [--now ISO]
      Verify an envelope; print the report (exit 0) or "<code>: <message>" (exit 1).
  beacon aggregator ...   Run the aggregator (see: beacon aggregator --help).
  beacon relay ...        Run a relay (see: beacon relay --help).
  beacon demo ...         Run the demo.
  beacon help             Show this text.

Options:
  --manifests DIR   product manifests to use (default: the ones shipped with Beacon)
  --now ISO         the time to act at, e.g. 2026-12-03T16:00:00Z (default: now)
`;

/** Parts of Beacon with their own command line, loaded only when asked for. */
const SUBSYSTEMS = new Set(['aggregator', 'relay', 'demo']);

const REPORT_OPTIONS = {
  product: { type: 'string' },
  values: { type: 'string' },
  key: { type: 'string' },
  manifests: { type: 'string' },
  now: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    if (SUBSYSTEMS.has(cmd)) return await runSubsystem(cmd, rest);
    switch (cmd) {
      case 'keygen':
        return keygenCmd(rest);
      case 'report':
      case 'preview':
        return await reportCmd(cmd, rest);
      case 'verify':
        return await verifyCmd(rest);
      default:
        process.stderr.write(`beacon: unknown command "${cmd}"\n\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    return failure(cmd, e);
  }
}

/** Turns any error into one line on stderr and an exit code; never a stack trace. */
function failure(cmd: string, e: unknown): number {
  if (e instanceof UsageError || (e as NodeJS.ErrnoException)?.code?.startsWith?.('ERR_PARSE_ARGS')) {
    process.stderr.write(`beacon ${cmd}: ${(e as Error).message}\nRun "beacon help" for usage.\n`);
    return 2;
  }
  if (e instanceof BeaconError) {
    process.stderr.write(`${e.code}: ${e.message}\n`);
    return 1;
  }
  const errno = (e as NodeJS.ErrnoException)?.code;
  const path = (e as NodeJS.ErrnoException)?.path;
  if (errno && path) process.stderr.write(`beacon ${cmd}: ${path}: ${describeFsError(e)}\n`);
  else process.stderr.write(`beacon ${cmd}: ${(e as Error)?.message ?? String(e)}\n`);
  return 1;
}

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  return parseArgs({ args, options, allowPositionals: true, strict: true });
}

function noPositionals(positionals: string[]): void {
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
}

function required(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

function keygenCmd(args: string[]): number {
  const { values, positionals } = parse(args, { key: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const);
  if (values.help) return help();
  noPositionals(positionals);
  process.stdout.write(keygen(required(values, 'key')) + '\n');
  return 0;
}

async function reportCmd(cmd: 'report' | 'preview', args: string[]): Promise<number> {
  const { values, positionals } = parse(args, REPORT_OPTIONS);
  if (values.help) return help();
  noPositionals(positionals);
  const ra: ReportArgs = {
    product: required(values, 'product'),
    values: required(values, 'values'),
    key: required(values, 'key'),
    manifests: values.manifests,
    now: values.now,
  };
  process.stdout.write((cmd === 'report' ? await report(ra) : await preview(ra)) + '\n');
  return 0;
}

async function verifyCmd(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { manifests: { type: 'string' }, now: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const);
  if (values.help) return help();
  if (positionals.length !== 1) throw new UsageError('give exactly one envelope file, or - for stdin');
  const r = await verify(positionals[0]!, values.manifests, parseNow(values.now));
  if (!r.ok) {
    process.stderr.write(`${r.error.code}: ${r.error.message}\n`);
    return 1;
  }
  process.stdout.write(JSON.stringify(r.report, null, 2) + '\n');
  return 0;
}

function help(): number {
  process.stdout.write(USAGE);
  return 0;
}

/**
 * Loads `<cmd>/cli.js` beside this file. The specifier is computed so the build does
 * not depend on parts that may be left out of it.
 */
async function runSubsystem(cmd: string, args: string[]): Promise<number> {
  const url = new URL(`../${cmd}/cli.js`, import.meta.url);
  let mod: { run?: (argv: string[]) => Promise<number> };
  try {
    mod = (await import(url.href)) as typeof mod;
  } catch (e) {
    // Only "this module is absent" means not built; a broken import inside it is a real error.
    const missing = (e as NodeJS.ErrnoException)?.code === 'ERR_MODULE_NOT_FOUND' && String((e as Error).message).includes(fileURLToPath(url));
    if (!missing) throw e;
    process.stderr.write(`beacon ${cmd}: not available in this build\n`);
    return 1;
  }
  if (typeof mod.run !== 'function') {
    process.stderr.write(`beacon ${cmd}: not available in this build\n`);
    return 1;
  }
  return mod.run(args);
}
