// `heap-partner-api check <url>`: runs the conformance checks against any webhook receiver and prints the scorecard.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { nonEmpty, readEnvironment } from '../config/env';
import { developmentSecretFile, readSecretFile, resolveDataDir } from '../config/secrets';
import {
  CHECK_GROUPS,
  DEFAULT_CHECK_ID_TOKEN,
  DEFAULT_CHECK_TIMEOUT_MS,
  formatJson,
  formatJunit,
  formatText,
  runChecks,
  unknownSelectors,
  type ProgressEvent,
} from '../checker';
import { examplesBlock } from './examples';
import { resolveSecret } from './generateTestHeapHeaders';

export const EXIT_OK = 0;
/** A check failed (warnings alone do not fail). */
export const EXIT_CHECK_FAILED = 1;
/** Nothing was checked: bad arguments, no secret. */
export const EXIT_USAGE = 2;

export type CheckCliOptions = {
  url: string;
  secret?: string;
  idToken?: string;
  json: boolean;
  junit?: string;
  only: string[];
  skip: string[];
  timeout: number;
  adminUrl?: string;
  adminToken?: string;
};

export const CHECK_DESCRIPTION =
  'Runs conformance checks against a Heap webhook receiver (any language, any URL) and prints a\n' +
  'scorecard: signing (forgeries, stale requests, leaked HMACs), raw bytes, protocol (unknown\n' +
  'actions, retries, concurrency, a 100,000-user page), published payload variants, and, with\n' +
  '--admin-url/--admin-token against one of ours, what was stored. Deliveries go to a segment of\n' +
  'their own (a fresh id per run) under id_token "' +
  DEFAULT_CHECK_ID_TOKEN +
  '" unless -i says otherwise.';

/** Splits repeated and comma-separated values: --only signing,raw-bytes --only protocol.get. */
function list(raw: unknown): string[] {
  const values = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return values
    .flatMap((value) => String(value).split(','))
    .map((s) => s.trim())
    .filter(Boolean);
}

export function checkOptions<T>(y: Argv<T>, invokedAs: string) {
  return y
    .positional('url', {
      type: 'string',
      demandOption: true,
      description: 'The receiver’s webhook URL, e.g. http://localhost:3000/webhook',
    })
    .option('secret', {
      alias: 's',
      type: 'string',
      requiresArg: true,
      description:
        'Webhook secret the receiver verifies with [default: WEBHOOK_SECRET from the environment ' +
        'or ./.env, else the development secret in <DATA_DIR>/webhook-secret]',
    })
    .option('id-token', {
      alias: 'i',
      type: 'string',
      requiresArg: true,
      description: `id_token put in the payloads [default: "${DEFAULT_CHECK_ID_TOKEN}"]; -i '' sends none (the partner's own environment)`,
    })
    .option('json', { type: 'boolean', default: false, description: 'Print the scorecard as JSON' })
    .option('junit', {
      type: 'string',
      requiresArg: true,
      description: 'Also write the scorecard as JUnit XML to this file (for CI test reports)',
    })
    .option('only', {
      type: 'string',
      array: true,
      description: `Run only these checks: ids, id prefixes or groups (${CHECK_GROUPS.join(', ')}); comma-separated or repeated`,
    })
    .option('skip', {
      type: 'string',
      array: true,
      description: 'Do not run these checks (ids, id prefixes or groups)',
    })
    .option('timeout', {
      type: 'number',
      requiresArg: true,
      default: DEFAULT_CHECK_TIMEOUT_MS / 1000,
      description: 'Seconds one request may take (Heap gives up on slow answers)',
    })
    .option('admin-url', {
      type: 'string',
      requiresArg: true,
      description:
        'State-aware mode: the admin API of the receiver (one of ours) [default with --admin-token: the URL’s origin]',
    })
    .option('admin-token', {
      type: 'string',
      requiresArg: true,
      description:
        'State-aware mode: its admin token [default with --admin-url: ADMIN_TOKEN from the ' +
        'environment or ./.env, else <DATA_DIR>/admin-token]',
    })
    .check((args) => {
      if (!(Number.isFinite(args.timeout) && args.timeout > 0 && args.timeout <= 600)) {
        throw new Error('--timeout must be a number of seconds, more than 0 and at most 600');
      }
      const unknown = unknownSelectors([...list(args.only), ...list(args.skip)]);
      if (unknown.length > 0) {
        throw new Error(
          `No check is called ${unknown.map((s) => `"${s}"`).join(', ')}. Groups: ${CHECK_GROUPS.join(', ')}; ` +
            `ids are listed in the README and in the scorecard.`,
        );
      }
      if (args.secret !== undefined && args.secret.trim() === '')
        throw new Error('-s needs a non-empty secret');
      return true;
    })
    .epilogue(
      examplesBlock(invokedAs, [
        ['http://localhost:3000/webhook', 'check our own server started with npm start'],
        [
          'https://partner.example.com/heap -s "$HEAP_WEBHOOK_SECRET"',
          'check any receiver, in any language',
        ],
        [
          'http://localhost:3000/webhook --junit check.xml',
          'in CI: JUnit report, exit 1 if a check failed',
        ],
        [
          'http://localhost:3000/webhook --only signing,raw-bytes --skip signing.oracle',
          'some groups only',
        ],
        [
          'http://localhost:3000/webhook --admin-url http://localhost:3000',
          'state-aware: also read back what our server stored (admin token from ADMIN_TOKEN)',
        ],
      ]) +
        '\n\nExit status: 0 no check failed (warnings allowed); 1 a check failed; 2 nothing was checked\n' +
        '(bad arguments, no secret). Progress goes to stderr on a terminal.',
    );
}

export function optionsFrom(args: Record<string, unknown>): CheckCliOptions {
  return {
    url: String(args.url),
    secret: args.secret as string | undefined,
    idToken: args.idToken as string | undefined,
    json: Boolean(args.json),
    junit: args.junit as string | undefined,
    only: list(args.only),
    skip: list(args.skip),
    timeout: Number(args.timeout),
    adminUrl: args.adminUrl as string | undefined,
    adminToken: args.adminToken as string | undefined,
  };
}

function httpUrl(value: string, flag: string): URL | string {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // Reported below with the flag's name.
  }
  return `${flag} "${value}" is not an http(s) URL`;
}

/** Runs the checks and prints the scorecard; resolves to the exit status. */
export async function run(options: CheckCliOptions): Promise<number> {
  const cwd = process.cwd();
  const env = readEnvironment(cwd);
  const usage = (message: string) => {
    process.stderr.write(`${message}\n`);
    return EXIT_USAGE;
  };
  const target = httpUrl(options.url, '<url>');
  if (typeof target === 'string') return usage(target);
  const secret = resolveSecret(options.secret, env, cwd);
  if (!secret.ok) return usage(secret.message);

  let admin: { url: string; token: string } | undefined;
  if (options.adminUrl !== undefined || options.adminToken !== undefined) {
    const adminUrl = httpUrl(options.adminUrl ?? target.origin, '--admin-url');
    if (typeof adminUrl === 'string') return usage(adminUrl);
    const tokenFile = developmentSecretFile(resolveDataDir(env, cwd), 'ADMIN_TOKEN');
    const token = options.adminToken ?? nonEmpty(env.ADMIN_TOKEN) ?? readSecretFile(tokenFile);
    if (token === undefined) {
      return usage(
        `No admin token: pass --admin-token, set ADMIN_TOKEN, or run where ${tokenFile} exists.`,
      );
    }
    admin = { url: adminUrl.origin + adminUrl.pathname.replace(/\/+$/, ''), token };
  }

  const progress = process.stderr.isTTY && !options.json ? ttyProgress() : undefined;
  const card = await runChecks({
    url: target.href,
    secret: secret.secret,
    idToken: options.idToken,
    timeoutMs: Math.round(options.timeout * 1000),
    only: options.only,
    skip: options.skip,
    admin,
    onProgress: progress,
  });
  process.stdout.write(options.json ? formatJson(card) : formatText(card));
  if (options.junit !== undefined) {
    const file = path.resolve(cwd, options.junit);
    writeFileSync(file, formatJunit(card));
    if (!options.json) process.stderr.write(`JUnit report written to ${file}\n`);
  }
  return card.ok ? EXIT_OK : EXIT_CHECK_FAILED;
}

/** One self-overwriting status line on stderr while checks run, cleared at the end. */
function ttyProgress(): (event: ProgressEvent) => void {
  return (event) => {
    if (event.type === 'start') {
      const line = `[${event.index + 1}/${event.total}] ${event.id}`;
      process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 80) - 1)}`);
    } else if (event.index + 1 === event.total) {
      process.stderr.write('\r\x1b[2K');
    }
  };
}
