// The test-webhook CLI (`heap-partner-api send`, bin/generateTestHeapHeaders.js): builds, signs and sends (or prints as curl) Heap webhooks.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import path from 'node:path';
import yargs, { type Argv } from 'yargs';
import { nonEmpty, readEnvironment, type Environment } from '../config/env';
import { projectRoot } from '../config/paths';
import { findWebhookSecret } from '../config/secrets';
import { createProgress } from './progress';
import { signHeapHash } from '../webhook/signature';
import { sendSignedWebhook } from '../webhook/send';
import { buildSyncPages, dummyUsers, type SegmentRef } from '../webhook/outgoing';
import { examplesBlock, type Example } from './examples';

export const DEFAULT_URL = 'http://localhost:3000/webhook';

/** How far -a past/future move the signing time: beyond the server's default 300 s / 60 s window. */
export const TIMESTAMP_SHIFT_MS = 10 * 60_000;

export const EXIT_OK = 0;
/** A request was answered with a non-2xx status, or not answered at all. */
export const EXIT_REQUEST_FAILED = 1;
/** Nothing was sent: bad arguments, no secret, unreadable file. */
export const EXIT_USAGE = 2;

export type PayloadType = 'sync' | 'drain';
export type SigningTime = 'now' | 'past' | 'future';

export type CliOptions = {
  type?: PayloadType;
  url: string;
  secret?: string;
  idToken?: string;
  at: SigningTime;
  print: boolean;
  file?: string;
  segment?: number;
  users?: number;
  pages?: number;
};

/** A payload as in bin/data: only the fields the CLI may override are typed. */
export type SamplePayload = {
  id_token?: string;
  action_type: string;
  customer_config?: unknown;
  data: { segment: SegmentRef } & Record<string, unknown>;
} & Record<string, unknown>;

export type Overrides = {
  /** A token to put in the payload; '' removes it (the partner's own environment). */
  idToken?: string;
  segmentId?: number;
};

type Result<T> = ({ ok: true } & T) | { ok: false; message: string };

/** Accepts the seed's scheme-less `localhost:3000/users_sync`; only http and https make sense. */
export function normaliseUrl(input: string): Result<{ url: string }> {
  const trimmed = input.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)
    ? trimmed
    : `http://${trimmed.replace(/^\/\//, '')}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { ok: false, message: `-u "${input}" is not a URL` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, message: `-u "${input}" must be an http or https URL` };
  }
  return { ok: true, url: url.href };
}

/** Quotes one word for a POSIX shell: inside single quotes nothing is special but ' itself. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A curl command that sends exactly `body` with the given Heap-Hash and prints the status. */
export function curlCommand(request: { url: string; heapHash: string; body: string }): string {
  return [
    'curl',
    '-sS',
    shellQuote(request.url),
    '-H',
    shellQuote('Content-Type: application/json'),
    '-H',
    shellQuote(`Heap-Hash: ${request.heapHash}`),
    '-w',
    shellQuote('\\nHTTP %{http_code}\\n'),
    // --data-raw, not -d: a body starting with @ must not be read as a file name.
    '--data-raw',
    shellQuote(request.body),
  ].join(' ');
}

export function signingTime(at: SigningTime, nowMs: number): number {
  if (at === 'past') return nowMs - TIMESTAMP_SHIFT_MS;
  if (at === 'future') return nowMs + TIMESTAMP_SHIFT_MS;
  return nowMs;
}

/**
 * The secret the server most likely uses: -s, then WEBHOOK_SECRET (environment or .env), then
 * the development secret a server without WEBHOOK_SECRET generated in DATA_DIR. Never creates
 * that file: a secret the server does not know would only produce 403s.
 */
export function resolveSecret(
  flag: string | undefined,
  env: Environment,
  cwd: string,
): Result<{ secret: string; source: string }> {
  if (flag !== undefined) return { ok: true, secret: flag, source: '-s' };
  const found = findWebhookSecret(env, cwd);
  if (found.secret !== undefined) return { ok: true, ...found };
  return {
    ok: false,
    message:
      'No webhook secret found. Pass the one your server uses with -s <secret>, set ' +
      `WEBHOOK_SECRET (environment or .env), or start the server once (npm start) so it ` +
      `generates ${found.file} for development.`,
  };
}

/** Applies -i and --segment to a sample, keeping the field order of Heap's payloads. */
export function withOverrides(sample: SamplePayload, overrides: Overrides): SamplePayload {
  const { id_token: ownToken, ...rest } = sample;
  const idToken = overrides.idToken ?? ownToken;
  return {
    ...(idToken === undefined || idToken === '' ? {} : { id_token: idToken }),
    ...rest,
    data: {
      ...sample.data,
      segment: { ...sample.data.segment, id: overrides.segmentId ?? sample.data.segment.id },
    },
  };
}

/** One sync task of `users` generated users over about `pages` pages (page size ceil(N/P)). */
export function generatedSyncTask(
  sample: SamplePayload,
  options: { users: number; pages: number; syncTaskId: string },
): { bodies: string[]; pageSize: number } {
  const pageSize = Math.max(1, Math.ceil(options.users / options.pages));
  const pages = buildSyncPages({
    idToken: sample.id_token,
    segment: sample.data.segment,
    syncTaskId: options.syncTaskId,
    add: dummyUsers(options.users),
    remove: [],
    pageSize,
    customerConfig: sample.customer_config,
  });
  return { bodies: pages.map((page) => JSON.stringify(page)), pageSize };
}

export function readSample(type: PayloadType): SamplePayload {
  const file = path.join(projectRoot, 'bin', 'data', `${type}.json`);
  return JSON.parse(readFileSync(file, 'utf8')) as SamplePayload;
}

/** Reads a payload file as text, refusing bytes that would not survive as UTF-8 unchanged. */
export function readPayloadFile(file: string, cwd: string): Result<{ body: string }> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path.resolve(cwd, file));
  } catch (error) {
    return { ok: false, message: `Cannot read -f ${file}: ${(error as Error).message}` };
  }
  const body = bytes.toString('utf8');
  if (!Buffer.from(body, 'utf8').equals(bytes)) {
    return { ok: false, message: `-f ${file} is not UTF-8 text (JSON must be UTF-8)` };
  }
  return { ok: true, body };
}

type Parsed = { kind: 'run'; options: CliOptions } | { kind: 'exit'; code: number; text: string };

/** What --help shows as examples, after however the command is invoked. */
const EXAMPLES: Example[] = [
  ['-t sync -u localhost:3000/users_sync', "send bin/data/sync.json, as Heap's seed CLI does"],
  ['-t drain', 'empty the segment that the sample sync filled'],
  ['-i acme-token --segment 42', 'the sample sync for another customer (tenant) and segment'],
  ['--users 250 --pages 3', 'one sync task (fresh sync_task_id) of 250 generated users in 3 pages'],
  ['-f my-payload.json', 'sign and send your own file exactly as it is, spacing included'],
  [
    '-a past      (or -a future, or -s wrong-secret)',
    'check that the server refuses the request with 403',
  ],
  [
    '-p > request.sh && sh request.sh',
    "print curl commands instead; run them within the server's tolerance (5 minutes)",
  ],
];

const EPILOGUE = `Re-sending a page or a signed request the server already applied is answered 200 "duplicate"
and changes nothing: use -i, --segment or --users for a fresh sync.

Exit status: 0 every request was answered 2xx (or -p printed the commands); 1 a request was
answered with another status or not at all (is the server running?); 2 nothing was sent
(bad arguments, no secret, unreadable -f file).`;

export const SEND_DESCRIPTION =
  'Signs a Heap-shaped webhook with the webhook secret and POSTs it, as Heap would, then\n' +
  'prints the HTTP status and response body. With -p it prints a curl command instead.';

function wholeNumber(flag: string, min: number): (raw: string | number) => number {
  return (raw) => {
    // Without a type yargs hands over numbers as numbers; the text is checked either way.
    const text = String(raw);
    const value = Number(text);
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
      throw new Error(`${flag} must be a whole number of at least ${min} (got "${raw}")`);
    }
    return value;
  };
}

/**
 * The send options, checks, examples and notes, on any yargs instance: the seed-named script's
 * own parser and the `send` subcommand share them. `invokedAs` is how the examples invoke it.
 */
export function sendOptions<T>(y: Argv<T>, invokedAs: string) {
  return y
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .option('type', {
      alias: 't',
      choices: ['sync', 'drain'] as const,
      requiresArg: true,
      description: 'Payload: bin/data/sync.json or bin/data/drain.json [default: sync]',
    })
    .option('url', {
      alias: 'u',
      type: 'string',
      requiresArg: true,
      default: DEFAULT_URL,
      description: 'Where to POST; without a scheme, http:// is assumed',
    })
    .option('secret', {
      alias: 's',
      type: 'string',
      requiresArg: true,
      description:
        'Webhook secret [default: WEBHOOK_SECRET from the environment or ./.env, else ' +
        'the development secret the server generated in <DATA_DIR>/webhook-secret, DATA_DIR ' +
        'defaulting to ./data]',
    })
    .option('id-token', {
      alias: 'i',
      type: 'string',
      requiresArg: true,
      description:
        "Customer id_token to put in the payload [default: ID_TOKEN from the environment or ./.env, else the sample's]; -i '' sends none (the partner's own environment)",
    })
    .option('at', {
      alias: 'a',
      choices: ['now', 'past', 'future'] as const,
      requiresArg: true,
      default: 'now' as const,
      description:
        'Signing time: past = 10 minutes ago, future = 10 minutes ahead; both outside the ' +
        "server's default tolerance (300 s old, 60 s ahead), so expect 403",
    })
    .option('print', {
      alias: 'p',
      type: 'boolean',
      default: false,
      description:
        "Print a shell-quoted curl command (one a line) instead of sending; it is signed when printed, so run it within the server's tolerance (5 minutes by default)",
    })
    .option('file', {
      alias: 'f',
      type: 'string',
      requiresArg: true,
      description:
        'Send this file byte for byte, signed; -t, -i, --segment, --users, --pages and ID_TOKEN do not apply',
    })
    .option('segment', {
      requiresArg: true,
      coerce: wholeNumber('--segment', 0),
      description: 'Put this segment id (a whole number) in data.segment.id',
    })
    .option('users', {
      requiresArg: true,
      coerce: wholeNumber('--users', 0),
      description: 'Send one sync task of N generated users (user-1@example.com …) instead',
    })
    .option('pages', {
      requiresArg: true,
      coerce: wholeNumber('--pages', 1),
      description: 'Split the --users task over P pages of ceil(N/P) users [default: 1]',
    })
    .check((args) => {
      const changesPayload = [args.type, args.idToken, args.segment, args.users, args.pages];
      if (args.file !== undefined && changesPayload.some((value) => value !== undefined)) {
        throw new Error(
          '-f sends the file as it is: -t, -i, --segment, --users and --pages cannot change it',
        );
      }
      if (args.pages !== undefined && args.users === undefined) {
        throw new Error('--pages splits a --users task: add --users N');
      }
      if (args.secret !== undefined && args.secret.trim() === '') {
        throw new Error('-s needs a non-empty secret');
      }
      if (args.users !== undefined && args.type === 'drain') {
        throw new Error('--users makes a sync task; it cannot be combined with -t drain');
      }
      return true;
    })
    .epilogue(`${examplesBlock(invokedAs, EXAMPLES)}\n\n${EPILOGUE}`);
}

function parser() {
  return sendOptions(
    yargs()
      .scriptName('node bin/generateTestHeapHeaders.js')
      .usage(`$0 [options]\n\n${SEND_DESCRIPTION}`),
    'node bin/generateTestHeapHeaders.js',
  )
    .alias('help', 'h')
    .version(false)
    .strict()
    .showHelpOnFail(false, 'Run with --help for the options.')
    .wrap(100);
}

/** The options the runner reads, without yargs's aliases and positional bookkeeping. */
export function optionsFrom(args: CliOptions): CliOptions {
  return {
    type: args.type,
    url: args.url,
    secret: args.secret,
    idToken: args.idToken,
    at: args.at,
    print: args.print,
    file: args.file,
    segment: args.segment,
    users: args.users,
    pages: args.pages,
  };
}

/** Parses argv; help and usage errors come back as text to print rather than being printed. */
export function parseArguments(argv: string[]): Promise<Parsed> {
  return new Promise((resolve) => {
    parser().parse(argv, {}, (error, args, output) => {
      if (error) resolve({ kind: 'exit', code: EXIT_USAGE, text: output || error.message });
      else if (args.help) resolve({ kind: 'exit', code: EXIT_OK, text: output });
      else {
        resolve({ kind: 'run', options: optionsFrom(args) });
      }
    });
  });
}

type Outgoing = { bodies: string[]; task?: { id: string; users: number; pageSize: number } };

function outgoing(options: CliOptions, env: Environment, cwd: string): Result<Outgoing> {
  if (options.file !== undefined) {
    const read = readPayloadFile(options.file, cwd);
    return read.ok ? { ok: true, bodies: [read.body] } : read;
  }
  const sample = withOverrides(readSample(options.type ?? 'sync'), {
    idToken: options.idToken ?? nonEmpty(env.ID_TOKEN),
    segmentId: options.segment,
  });
  if (options.users === undefined) return { ok: true, bodies: [JSON.stringify(sample)] };
  const id = randomUUID();
  const users = options.users;
  const { bodies, pageSize } = generatedSyncTask(sample, {
    users,
    pages: options.pages ?? 1,
    syncTaskId: id,
  });
  return { ok: true, bodies, task: { id, users, pageSize } };
}

function hintFor(status: number, body: string, options: CliOptions, secretSource: string): string {
  let error: unknown;
  try {
    error = (JSON.parse(body) as { error?: unknown }).error;
  } catch {
    error = undefined;
  }
  if (error === 'invalid_signature') {
    return `The server refused a signature made with the secret from ${secretSource}: pass the secret it uses with -s.`;
  }
  if (error === 'timestamp_out_of_tolerance') {
    return options.at === 'now'
      ? "The server's clock and this machine's disagree by more than its tolerance."
      : `As expected with -a ${options.at}: the signature is 10 minutes ${options.at === 'past' ? 'old' : 'ahead'}.`;
  }
  if (status === 404) return 'The server takes webhooks at /webhook, /users_sync and /users_drain.';
  return '';
}

function statusOf(body: string): string {
  try {
    const status = (JSON.parse(body) as { status?: unknown }).status;
    return typeof status === 'string' ? status : 'accepted';
  } catch {
    return 'accepted';
  }
}

/** Runs the CLI; resolves to the process exit code and never rejects for expected failures. */
export async function main(argv: string[]): Promise<number> {
  const parsed = await parseArguments(argv);
  if (parsed.kind === 'exit') {
    (parsed.code === EXIT_OK ? process.stdout : process.stderr).write(`${parsed.text}\n`);
    return parsed.code;
  }
  return run(parsed.options);
}

/** Sends (or prints) what the parsed options describe; resolves to the process exit code. */
export async function run(options: CliOptions): Promise<number> {
  const cwd = process.cwd();
  const env = readEnvironment(cwd);
  const fail = (message: string): number => {
    process.stderr.write(`${message}\n`);
    return EXIT_USAGE;
  };

  const secret = resolveSecret(options.secret, env, cwd);
  if (!secret.ok) return fail(secret.message);
  const target = normaliseUrl(options.url);
  if (!target.ok) return fail(target.message);
  const planned = outgoing(options, env, cwd);
  if (!planned.ok) return fail(planned.message);
  const { bodies, task } = planned;

  if (options.print) {
    for (const body of bodies) {
      const heapHash = signHeapHash(secret.secret, body, signingTime(options.at, Date.now()));
      process.stdout.write(`${curlCommand({ url: target.url, heapHash, body })}\n`);
    }
    return EXIT_OK;
  }

  const tally = new Map<string, number>();
  // A sync of many pages shows how far it is on a terminal (stderr), below the pages' answers.
  const progress = createProgress(
    bodies.length > 1 ? process.stderr : { write: () => true },
    'send',
    'pages',
  );
  for (const [index, body] of bodies.entries()) {
    progress.update(index, bodies.length);
    const label = bodies.length > 1 ? `page ${index + 1}/${bodies.length}: ` : '';
    const status = await send({
      url: target.url,
      secret,
      body,
      label,
      options,
      print: progress.line,
    });
    if (status === undefined) break;
    tally.set(status, (tally.get(status) ?? 0) + 1);
  }
  progress.finish();
  const accepted = [...tally.values()].reduce((sum, count) => sum + count, 0);
  if (task) {
    const counts = [...tally].map(([status, count]) => `${count} ${status}`).join(', ');
    process.stdout.write(
      `sync task ${task.id}: ${accepted} of ${bodies.length} pages accepted` +
        `${counts ? ` (${counts})` : ''}; ${task.users} users in pages of up to ${task.pageSize}` +
        `${accepted < bodies.length ? '; stopped at the first failure' : ''}\n`,
    );
  }
  return accepted === bodies.length ? EXIT_OK : EXIT_REQUEST_FAILED;
}

/** Sends one body and reports it; resolves to the server's status word, or undefined on failure. */
async function send(request: {
  url: string;
  secret: { secret: string; source: string };
  body: string;
  label: string;
  options: CliOptions;
  /** Writes output without mangling the progress line. */
  print: (write: () => void) => void;
}): Promise<string | undefined> {
  const { url, secret, body, label, options, print } = request;
  const result = await sendSignedWebhook({
    url,
    secret: secret.secret,
    body,
    timestampMs: signingTime(options.at, Date.now()),
  });
  if (!result.ok) {
    const refused = result.error.startsWith('ECONNREFUSED')
      ? ' (connection refused: is the server running? Start it with npm start, or point -u at it)'
      : '';
    print(() =>
      process.stderr.write(`${label}could not POST to ${url}: ${result.error}${refused}\n`),
    );
    return undefined;
  }
  const reason = STATUS_CODES[result.status] ?? '';
  const cut = result.truncated ? '\n(response cut: only its beginning was read)' : '';
  print(() => process.stdout.write(`${label}${result.status} ${reason}\n${result.body}${cut}\n`));
  if (result.status >= 200 && result.status <= 299) return statusOf(result.body);
  const hint = hintFor(result.status, result.body, options, secret.source);
  if (hint) print(() => process.stderr.write(`${hint}\n`));
  return undefined;
}
