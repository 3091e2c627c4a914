// Proof that the checker finds real faults: each fixture receiver with one classic fault is reported by the right checks, and by nothing else.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runChecks, type CheckStatus, type Scorecard } from '../../src/checker';
import {
  startFaultyReceiver,
  type Fault,
  type FaultyReceiver,
} from '../fixtures/receivers/faultyReceiver';
import { tempDir } from '../support/testApp';
import { runCli } from '../support/runProcess';

const SECRET = 'fixture-webhook-secret';
// Short enough that the stalled big page costs little; long enough for 100,000 users in memory.
const TIMEOUT_MS = 5000;

/** Check id → status, for the checks that did not pass or skip. */
function findings(card: Scorecard): Record<string, CheckStatus> {
  return Object.fromEntries(
    card.results
      .filter((r) => r.status === 'fail' || r.status === 'warn')
      .map((r) => [r.id, r.status]),
  );
}

/** Checks that carry a timing element and may warn on a loaded machine without being the fault. */
function withoutTimingWarnings(found: Record<string, CheckStatus>): Record<string, CheckStatus> {
  const { ['protocol.response-time']: timing, ...rest } = found;
  return timing === 'fail' ? found : rest;
}

const CASES: {
  fault: Fault;
  findings: Record<string, CheckStatus>;
  stateFindings?: Record<string, CheckStatus>;
}[] = [
  { fault: 'none', findings: {}, stateFindings: {} },
  { fault: 'non-constant-time-compare', findings: {} },
  { fault: 'echoes-expected-hmac', findings: { 'signing.oracle': 'fail' } },
  {
    fault: 'verifies-reserialised-json',
    findings: {
      'raw-bytes.pretty': 'fail',
      'raw-bytes.unicode-escapes': 'fail',
      'raw-bytes.trailing-whitespace': 'fail',
    },
  },
  { fault: 'no-timestamp-check', findings: { 'signing.stale': 'fail', 'signing.future': 'fail' } },
  { fault: 'fails-unknown-action', findings: { 'protocol.unknown-action': 'fail' } },
  { fault: 'refuses-unknown-action', findings: { 'protocol.unknown-action': 'warn' } },
  { fault: 'times-out-on-big-pages', findings: { 'protocol.big-page': 'fail' } },
  {
    fault: 'applies-retried-page-twice',
    findings: {},
    stateFindings: { 'state.retry-once': 'fail' },
  },
];

describe.each(CASES)(
  'fixture receiver "$fault"',
  ({ fault, findings: expected, stateFindings }) => {
    let receiver: FaultyReceiver;
    beforeAll(async () => {
      receiver = await startFaultyReceiver(fault, { secret: SECRET });
    });
    afterAll(() => receiver.close());

    test(`is reported by ${Object.keys(expected).join(', ') || 'no check'}`, async () => {
      const card = await runChecks({ url: receiver.url, secret: SECRET, timeoutMs: TIMEOUT_MS });

      expect(withoutTimingWarnings(findings(card))).toEqual(expected);
      expect(card.ok).toBe(!Object.values(expected).includes('fail'));
      // Without an admin API the state checks are skipped, and only they are.
      expect(
        card.results.filter((r) => r.status === 'skip').every((r) => r.group === 'state'),
      ).toBe(true);
      expect(card.totals.skip).toBeGreaterThan(0);
    }, 60_000);

    if (stateFindings) {
      test(`in state-aware mode, is reported by ${Object.keys(stateFindings).join(', ') || 'no check'}`, async () => {
        const card = await runChecks({
          url: receiver.url,
          secret: SECRET,
          timeoutMs: TIMEOUT_MS,
          admin: { url: receiver.adminUrl, token: receiver.adminToken },
        });

        expect(withoutTimingWarnings(findings(card))).toEqual(stateFindings);
        expect(card.totals.skip).toBe(0);
      }, 60_000);
    }
  },
);

describe('what a failure tells the partner', () => {
  let receiver: FaultyReceiver;
  beforeAll(async () => {
    receiver = await startFaultyReceiver('echoes-expected-hmac', { secret: SECRET });
  });
  afterAll(() => receiver.close());

  test('the oracle failure says what leaked, and the scorecard never carries the leaked HMAC or the secret', async () => {
    const card = await runChecks({ url: receiver.url, secret: SECRET, only: ['signing'] });
    const oracle = card.results.find((r) => r.id === 'signing.oracle')!;

    expect(oracle.status).toBe('fail');
    expect(oracle.detail).toMatch(/contains the expected HMAC \(base64\)/);
    expect(oracle.received).toContain('[redacted]');
    expect(oracle.fix).toMatch(/never .*return computed HMACs/);
    // The fixture answered with base64 HMACs; none may reach the report (CI logs keep it).
    const text = JSON.stringify(card);
    expect(text).not.toContain(SECRET);
    expect(text).not.toMatch(/"expected":"[A-Za-z0-9+/]{43}=/);
  });

  test('--only and --skip select by group, id prefix and id', async () => {
    const card = await runChecks({
      url: receiver.url,
      secret: SECRET,
      only: ['signing.malformed', 'protocol.get'],
      skip: ['signing.malformed.garbage'],
    });
    const ran = card.results.filter((r) => r.status !== 'skip').map((r) => r.id);

    expect(ran).toEqual([
      'signing.malformed.no-ts',
      'signing.malformed.no-hmac',
      'signing.malformed.swapped',
      'signing.malformed.extra-key',
      'signing.malformed.duplicate-ts',
      'protocol.get',
    ]);
  });

  test('a cancelled run stops, skips the rest and is not ok', async () => {
    const abort = new AbortController();
    const card = await runChecks({
      url: receiver.url,
      secret: SECRET,
      signal: abort.signal,
      onProgress: (event) => {
        if (event.type === 'result' && event.result.id === 'signing.missing') abort.abort();
      },
    });

    expect(card.cancelled).toBe(true);
    expect(card.ok).toBe(false);
    expect(card.results.find((r) => r.id === 'protocol.get')!.status).toBe('skip');
  });
});

describe('heap-partner-api check (the built CLI)', () => {
  const receivers: FaultyReceiver[] = [];
  afterAll(async () => {
    for (const receiver of receivers) await receiver.close();
  });

  async function cli(args: string[], env: Record<string, string> = {}) {
    const cwd = tempDir('hpa-check-cli-');
    return { ...(await runCli(['check', ...args], env, cwd)), cwd };
  }

  test('a failing check: exit 1, the scorecard says what was sent, what came back, why and how to fix; --junit writes the report', async () => {
    const receiver = await startFaultyReceiver('no-timestamp-check', { secret: SECRET });
    receivers.push(receiver);

    const run = await cli([receiver.url, '--skip', 'protocol.big-page', '--junit', 'report.xml'], {
      WEBHOOK_SECRET: SECRET,
    });

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^ {2}FAIL {2}signing\.stale {2}/m);
    expect(run.stdout).toMatch(/sent: +a sync page correctly signed 10 minutes ago/);
    expect(run.stdout).toMatch(/received: +200 /);
    expect(run.stdout).toMatch(/why: +Without a timestamp check/);
    expect(run.stdout).toMatch(/fix: +Refuse a Heap-Hash ts more than/);
    expect(run.stdout).toMatch(/^FAILED: \d+ passed, 2 failed, 0 warned, \d+ skipped; score \d+%/m);
    const junit = readFileSync(path.join(run.cwd, 'report.xml'), 'utf8');
    expect(junit).toMatch(/<testsuites [^>]*failures="2"/);
    expect(junit).toContain(
      '<failure message="accepted (2xx): the request should have been refused">',
    );
    expect(junit).not.toContain(SECRET);
  }, 60_000);

  test('nothing failed: exit 0; --json prints the scorecard object; -s gives the secret', async () => {
    const receiver = await startFaultyReceiver('none', { secret: SECRET });
    receivers.push(receiver);

    const run = await cli([receiver.url, '-s', SECRET, '--json', '--only', 'signing,protocol.get']);

    expect(run.code).toBe(0);
    const card = JSON.parse(run.stdout) as Scorecard;
    expect(card.ok).toBe(true);
    expect(card.totals.pass).toBe(15);
    expect(card.results.find((r) => r.id === 'signing.valid')!.status).toBe('pass');
  }, 60_000);

  test('state-aware mode reads the admin API given; the wrong secret fails the valid-request check', async () => {
    const receiver = await startFaultyReceiver('applies-retried-page-twice', { secret: SECRET });
    receivers.push(receiver);

    const run = await cli(
      [
        receiver.url,
        '--only',
        'state',
        '--admin-url',
        receiver.adminUrl,
        '--admin-token',
        receiver.adminToken,
      ],
      { WEBHOOK_SECRET: SECRET },
    );
    const wrong = await cli([receiver.url, '--only', 'signing.valid', '-s', 'not-the-secret']);

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^ {2}FAIL {2}state\.retry-once/m);
    expect(run.stdout).toMatch(/problem: +expected 2 members; unexpected 1 \(sr-/);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(
      /FAIL {2}signing\.valid[\s\S]*received: +403 \{"error":"invalid_signature"\}/,
    );
  }, 60_000);

  test('usage mistakes exit 2 before anything is sent', async () => {
    const noSecret = await cli(['http://127.0.0.1:9/webhook']);
    const badSelector = await cli(['http://127.0.0.1:9/webhook', '-s', 'x', '--only', 'signin']);
    const badUrl = await cli(['ftp://example.com', '-s', 'x']);

    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain('No webhook secret found');
    expect(badSelector.code).toBe(2);
    expect(badSelector.stderr).toContain('No check is called "signin"');
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('is not an http(s) URL');
  });
});
