// Unit tests for the CLI's pure helpers: URLs, shell quoting, curl, signing time, secrets, payloads, flags.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  TIMESTAMP_SHIFT_MS,
  curlCommand,
  generatedSyncTask,
  normaliseUrl,
  parseArguments,
  readPayloadFile,
  readSample,
  resolveSecret,
  shellQuote,
  signingTime,
  withOverrides,
} from '../../src/cli/generateTestHeapHeaders';
import { parseWebhookBody } from '../../src/webhook/payload';
import { checkHeapHashHeader, signHeapHash } from '../../src/webhook/signature';

/** What a POSIX shell makes of `command`'s arguments (after its first word), one string each. */
function shellWords(command: string): string[] {
  const script = `words() { for word; do printf '%s\\0' "$word"; done; }; words ${command.slice(command.indexOf(' ') + 1)}`;
  const out = execFileSync('sh', ['-c', script], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('normaliseUrl', () => {
  test.each([
    ['localhost:3000/users_sync', 'http://localhost:3000/users_sync'],
    ['  127.0.0.1:8080/webhook?x=1  ', 'http://127.0.0.1:8080/webhook?x=1'],
    ['//example.org/hook', 'http://example.org/hook'],
    ['http://localhost:3000/webhook', 'http://localhost:3000/webhook'],
    ['HTTPS://Partner.Example/hooks/heap', 'https://partner.example/hooks/heap'],
  ])('%s → %s', (input, expected) => {
    expect(normaliseUrl(input)).toEqual({ ok: true, url: expected });
  });

  test.each(['', 'http://', 'ftp://example.org/hook', 'file:///etc/passwd'])(
    '%j is refused with a message naming it',
    (input) => {
      const result = normaliseUrl(input);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.message).toContain(`-u "${input}"`);
    },
  );
});

describe('shellQuote', () => {
  test("wraps in single quotes and escapes a single quote as '\\''", () => {
    expect(shellQuote('plain')).toBe("'plain'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('')).toBe("''");
  });

  test.each([
    "o'brien@example.org",
    "''",
    '$HOME $(id) `id` \\n \\ "double"',
    'line one\nline two\ttab',
    '!history & | ; < > * ? [a] ~ #',
    'zoë 🚀 ünïcode',
  ])('a shell gives back %j unchanged', (value) => {
    expect(shellWords(`x ${shellQuote(value)}`)).toEqual([value]);
  });
});

describe('curlCommand', () => {
  const body = `{"data":{"add":[{"id":"o'brien@example.org"},{"id":"$HOME"}]}}`;
  const heapHash = signHeapHash('secret', body, 1_700_000_000_000);
  const command = curlCommand({ url: 'http://localhost:3000/webhook', heapHash, body });

  test('is one curl command that a shell splits into exactly the intended arguments', () => {
    expect(command.startsWith('curl ')).toBe(true);
    expect(command).not.toContain('\n');
    expect(shellWords(command)).toEqual([
      '-sS',
      'http://localhost:3000/webhook',
      '-H',
      'Content-Type: application/json',
      '-H',
      `Heap-Hash: ${heapHash}`,
      '-w',
      '\\nHTTP %{http_code}\\n',
      '--data-raw',
      body,
    ]);
  });

  test('uses --data-raw so a body starting with @ is not read as a file', () => {
    const words = shellWords(curlCommand({ url: 'http://h/', heapHash, body: '@/etc/passwd' }));
    expect(words.slice(-2)).toEqual(['--data-raw', '@/etc/passwd']);
  });
});

describe('signingTime', () => {
  const now = 1_700_000_000_000;
  const header = (at: 'now' | 'past' | 'future') =>
    checkHeapHashHeader({ header: signHeapHash('s', '{}', signingTime(at, now)), nowMs: now });

  test('now is accepted; past and future are 10 minutes off and refused by default', () => {
    expect(TIMESTAMP_SHIFT_MS).toBe(600_000);
    expect(signingTime('past', now)).toBe(now - 600_000);
    expect(signingTime('future', now)).toBe(now + 600_000);
    expect(header('now').ok).toBe(true);
    expect(header('past')).toEqual({ ok: false, reason: 'timestamp_out_of_tolerance' });
    expect(header('future')).toEqual({ ok: false, reason: 'timestamp_out_of_tolerance' });
  });
});

describe('resolveSecret', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cli-secret-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const writeSecret = (dataDir: string, secret: string) => {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(path.join(dataDir, 'webhook-secret'), `${secret}\n`);
  };

  test('-s wins over WEBHOOK_SECRET, which wins over the generated file', () => {
    writeSecret(path.join(dir, 'data'), 'from-file');
    expect(resolveSecret('from-flag', { WEBHOOK_SECRET: 'from-env' }, dir)).toMatchObject({
      secret: 'from-flag',
      source: '-s',
    });
    expect(resolveSecret(undefined, { WEBHOOK_SECRET: 'from-env' }, dir)).toMatchObject({
      secret: 'from-env',
      source: 'WEBHOOK_SECRET',
    });
    expect(resolveSecret(undefined, { WEBHOOK_SECRET: '  ' }, dir)).toMatchObject({
      secret: 'from-file',
      source: path.join(dir, 'data', 'webhook-secret'),
    });
  });

  test('DATA_DIR, relative to the working directory, says where the generated file is', () => {
    writeSecret(path.join(dir, 'elsewhere'), 'generated');
    expect(resolveSecret(undefined, { DATA_DIR: 'elsewhere' }, dir)).toMatchObject({
      secret: 'generated',
    });
    expect(resolveSecret(undefined, {}, dir).ok).toBe(false);
  });

  test('no secret at all: a message naming -s, WEBHOOK_SECRET and the file to expect', () => {
    const result = resolveSecret(undefined, {}, dir);
    expect(result.ok).toBe(false);
    const message = result.ok ? '' : result.message;
    expect(message).toContain('-s <secret>');
    expect(message).toContain('WEBHOOK_SECRET');
    expect(message).toContain(`start the server once`);
    expect(message).toContain(path.join(dir, 'data', 'webhook-secret'));
  });
});

describe('sample payloads and overrides', () => {
  test.each(['sync', 'drain'] as const)(
    'bin/data/%s.json is a valid payload of its type',
    (type) => {
      const sample = readSample(type);
      const parsed = parseWebhookBody(Buffer.from(JSON.stringify(sample)));
      expect(parsed.ok && parsed.delivery.kind).toBe(type);
    },
  );

  test('the sync sample is page 1 of 1 with an id_token, a config, adds and removes', () => {
    const parsed = parseWebhookBody(Buffer.from(JSON.stringify(readSample('sync'))));
    if (!parsed.ok || parsed.delivery.kind !== 'sync') throw new Error('not a sync');
    const { delivery } = parsed;
    expect(delivery.idToken).toEqual(expect.any(String));
    expect(delivery.customerConfig).toEqual(expect.objectContaining({ fields: expect.any(Array) }));
    expect(delivery.syncInfo).toMatchObject({ pageNumber: 1, totalPages: 1 });
    expect(delivery.add.length).toBeGreaterThan(0);
    expect(delivery.remove.length).toBeGreaterThan(0);
  });

  test('-i replaces the id_token, -i "" removes it, and --segment replaces the id', () => {
    const sample = readSample('sync');
    const copy = JSON.parse(JSON.stringify(sample)) as unknown;

    const replaced = withOverrides(sample, { idToken: 'acme', segmentId: 42 });
    expect(Object.keys(replaced)[0]).toBe('id_token');
    expect(replaced.id_token).toBe('acme');
    expect(replaced.data.segment).toEqual({ ...sample.data.segment, id: 42 });
    expect(replaced.data.sync_info).toEqual(sample.data.sync_info);

    expect('id_token' in withOverrides(sample, { idToken: '' })).toBe(false);
    expect(withOverrides(sample, {})).toEqual(sample);
    expect(sample).toEqual(copy);
  });

  test('--users 250 --pages 3: three valid pages of 84, 84, 82 users in one task', () => {
    const { bodies, pageSize } = generatedSyncTask(withOverrides(readSample('sync'), {}), {
      users: 250,
      pages: 3,
      syncTaskId: 'task-1',
    });
    expect(pageSize).toBe(84);
    const pages = bodies.map((body) => {
      const parsed = parseWebhookBody(Buffer.from(body));
      if (!parsed.ok || parsed.delivery.kind !== 'sync') throw new Error(body);
      return parsed.delivery;
    });
    expect(pages.map((page) => page.add.length)).toEqual([84, 84, 82]);
    expect(pages.map((page) => page.syncInfo)).toEqual(
      [1, 2, 3].map((pageNumber) => ({
        pageNumber,
        totalPages: 3,
        syncTaskId: 'task-1',
      })),
    );
    expect(new Set(pages.flatMap((page) => page.add)).size).toBe(250);
  });

  test('page size is ceil(N/P), so fewer pages can result; no users is one empty page', () => {
    const sample = readSample('sync');
    expect(generatedSyncTask(sample, { users: 10, pages: 6, syncTaskId: 't' }).bodies).toHaveLength(
      5,
    );
    const empty = generatedSyncTask(sample, { users: 0, pages: 3, syncTaskId: 't' });
    expect(empty.bodies).toHaveLength(1);
    expect(JSON.parse(empty.bodies[0])).toMatchObject({ data: { add: [] } });
  });
});

describe('readPayloadFile', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cli-file-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('returns the text exactly, whitespace and all, relative to the working directory', () => {
    const text = '\uFEFF{ "a" :\r\n\t1 }\n\n';
    writeFileSync(path.join(dir, 'odd.json'), text);
    expect(readPayloadFile('odd.json', dir)).toEqual({ ok: true, body: text });
  });

  test('refuses bytes that are not UTF-8 rather than send something else', () => {
    writeFileSync(path.join(dir, 'latin1.json'), Buffer.from('{"id":"caf\xe9"}', 'latin1'));
    expect(readPayloadFile('latin1.json', dir)).toEqual({
      ok: false,
      message: '-f latin1.json is not UTF-8 text (JSON must be UTF-8)',
    });
  });

  test('a missing file is a message, not an exception', () => {
    const result = readPayloadFile('nope.json', dir);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain('Cannot read -f nope.json');
  });
});

describe('parseArguments', () => {
  test('defaults: no type (sync is applied later), the local webhook URL, signed now', async () => {
    expect(await parseArguments([])).toEqual({
      kind: 'run',
      options: {
        type: undefined,
        url: 'http://localhost:3000/webhook',
        secret: undefined,
        idToken: undefined,
        at: 'now',
        print: false,
        file: undefined,
        segment: undefined,
        users: undefined,
        pages: undefined,
      },
    });
  });

  test("the seed's flags and ours, short and long", async () => {
    const parsed = await parseArguments([
      '-t',
      'drain',
      '-u',
      'localhost:3000/users_drain',
      '-s',
      'x',
      '--id-token',
      'tok',
      '-a',
      'past',
      '-p',
      '--segment',
      '9007199254740991',
    ]);
    expect(parsed).toMatchObject({
      kind: 'run',
      options: {
        type: 'drain',
        url: 'localhost:3000/users_drain',
        secret: 'x',
        idToken: 'tok',
        at: 'past',
        print: true,
        segment: 9007199254740991,
      },
    });
  });

  test.each([
    [['--segment', '1.5'], '--segment must be a whole number'],
    [['--segment', '9007199254740992'], '--segment must be a whole number'],
    [['--users', '-3'], '--users must be a whole number'],
    [['--users', '5', '--pages', '0'], '--pages must be a whole number of at least 1'],
    [['-a', 'yesterday'], 'Invalid values'],
    [['-s', ' '], '-s needs a non-empty secret'],
    [['-f', 'x', '--segment', '3'], '-f sends the file as it is'],
    [['-f', 'x', '-t', 'sync'], '-f sends the file as it is'],
    [['--nope'], 'Unknown argument: nope'],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    const parsed = await parseArguments(argv);
    expect(parsed).toMatchObject({ kind: 'exit', code: 2 });
    expect(parsed.kind === 'exit' && parsed.text).toContain(message);
  });

  test('--help and -h give the help text and exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const parsed = await parseArguments([flag]);
      expect(parsed).toMatchObject({ kind: 'exit', code: 0 });
      expect(parsed.kind === 'exit' && parsed.text).toContain('Exit status:');
    }
  });
});
