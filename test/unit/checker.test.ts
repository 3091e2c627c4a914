// The checker's pure parts: check selection, per-run variant bodies, redaction of what a receiver echoed, and the text/JUnit reports.
import { CHECKS, formatJunit, formatText, selects, unknownSelectors } from '../../src/checker';
import { variantBody } from '../../src/checker/catalogue';
import { CheckContext } from '../../src/checker/context';
import type { CheckResult, Scorecard } from '../../src/checker/types';
import { PUBLISHED_VARIANTS } from '../../src/webhook/variants';

const context = (idToken: string | undefined) =>
  new CheckContext({
    url: 'http://127.0.0.1:9/webhook',
    secret: 'the-webhook-secret',
    idToken,
    timeoutMs: 1000,
  });

describe('selecting checks', () => {
  test('a group, an id and an id prefix select; a partial word does not', () => {
    const stale = CHECKS.find((c) => c.id === 'signing.stale')!;
    const noTs = CHECKS.find((c) => c.id === 'signing.malformed.no-ts')!;

    expect(selects('signing', stale)).toBe(true);
    expect(selects('signing.stale', stale)).toBe(true);
    expect(selects('signing.malformed', noTs)).toBe(true);
    expect(selects('signing.malformed', stale)).toBe(false);
    expect(selects('signing.sta', stale)).toBe(false);
    expect(unknownSelectors(['signing', 'raw-bytes.emoji', 'signin', 'state.nope'])).toEqual([
      'signin',
      'state.nope',
    ]);
  });

  test('check ids are unique, and every group has checks', () => {
    const ids = CHECKS.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(CHECKS.map((c) => c.group))).toEqual(
      new Set(['signing', 'raw-bytes', 'protocol', 'variants', 'state']),
    );
  });
});

describe('the bodies sent', () => {
  test("a variant gets the run's segment id in its own JSON type and the run's id_token, except the one without", () => {
    const byName = (name: string) => PUBLISHED_VARIANTS.find((v) => v.name === name)!;

    const stringId = JSON.parse(variantBody(byName('string-segment-id'), 1234567890, 'tok').body);
    const intId = JSON.parse(variantBody(byName('action-alias'), 1234567890, 'tok').body);
    const own = variantBody(byName('no-id-token'), 1234567890, 'tok');
    const anyToken = JSON.parse(variantBody(byName('id-token-any-string'), 1, 'tok').body);

    expect(stringId.data.segment.id).toBe('1234567890');
    expect(stringId.id_token).toBe('tok');
    expect(intId.data.segment.id).toBe(1234567890);
    expect(intId.action).toBe('segment.users.sync');
    expect(JSON.parse(own.body)).not.toHaveProperty('id_token');
    expect(own.idToken).toBeUndefined();
    expect(anyToken.id_token).toBe('tok');
  });

  test('without an id_token (own environment) sync pages carry none, not an empty one', () => {
    expect(
      JSON.parse(context(undefined).syncBody({ segmentId: 1, add: ['a'] })),
    ).not.toHaveProperty('id_token');
    expect(JSON.parse(context('acme').syncBody({ segmentId: 1, add: ['a'] })).id_token).toBe(
      'acme',
    );
  });

  test('segment ids are fresh per check and fit a signed 32-bit integer', () => {
    const ctx = context('x');
    const first = ctx.segmentId();
    expect(ctx.segmentId()).toBe(first + 1);
    expect(first).toBeGreaterThanOrEqual(1_000_000_000);
    expect(first).toBeLessThan(2 ** 31 - 100);
  });

  test('what came back is shown capped, on one line, with the secret and leaked values redacted', () => {
    const ctx = context('x');
    const described = ctx.describe(
      {
        ok: true,
        status: 403,
        body: `{"error":"invalid_signature",\n"secret":"the-webhook-secret","expected":"AAAABBBBCCCCDDDD","pad":"${'x'.repeat(300)}"}`,
        latencyMs: 12.4,
      },
      ['AAAABBBBCCCCDDDD'],
    );

    expect(described).toMatch(
      /^403 \{"error":"invalid_signature", "secret":"\[redacted\]","expected":"\[redacted\]"/,
    );
    expect(described).not.toContain('the-webhook-secret');
    expect(described).toMatch(/x… \(12 ms\)$/);
    expect(ctx.describe({ ok: false, error: 'timed out after 1000 ms', latencyMs: 1000 })).toBe(
      'no answer: timed out after 1000 ms',
    );
  });
});

describe('reports', () => {
  const result = (
    id: string,
    status: CheckResult['status'],
    extra: Partial<CheckResult> = {},
  ): CheckResult => ({
    id,
    group: id.startsWith('state') ? 'state' : 'signing',
    title: `${id} title`,
    status,
    sent: 'sent <this> & "that"',
    received: '200 {"ok":true}',
    why: 'because',
    fix: 'do this',
    durationMs: 1500,
    ...extra,
  });
  const card: Scorecard = {
    url: 'http://127.0.0.1:9/webhook',
    stateAware: false,
    startedAt: '2026-12-01T00:00:00.000Z',
    durationMs: 2500,
    results: [
      result('signing.valid', 'pass'),
      result('signing.stale', 'fail', { detail: 'accepted (2xx)\u0007' }),
      result('signing.oracle', 'warn'),
      result('state.retry-once', 'skip', { sent: '', received: '', detail: 'needs the admin API' }),
    ],
    totals: { pass: 1, fail: 1, warn: 1, skip: 1 },
    score: 33,
    ok: false,
  };

  test('text: failures and warnings explain themselves, passes are one line, skips are summed up, then the total', () => {
    const text = formatText(card);

    expect(text).toContain('  PASS  signing.valid  signing.valid title\n  FAIL  signing.stale');
    expect(text).toMatch(/FAIL {2}signing\.stale[^\n]*\n {8}sent: {5}sent <this>/);
    expect(text).toContain('        problem:  accepted (2xx)');
    expect(text).toMatch(/WARN {2}signing\.oracle[^\n]*\n {8}sent:/);
    expect(text).toContain('  SKIP  1 check: needs the admin API');
    expect(text.trimEnd().split('\n').pop()).toBe(
      'FAILED: 1 passed, 1 failed, 1 warned, 1 skipped; score 33% (2.5 s)',
    );
  });

  test('JUnit: a suite per group with counts, failures with their message, XML-escaped, no control characters', () => {
    const xml = formatJunit(card);

    expect(xml).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites [^>]*tests="4" failures="1" errors="0" skipped="1"/,
    );
    expect(xml).toMatch(/<testsuite name="signing" tests="3" failures="1" errors="0" skipped="0"/);
    expect(xml).toMatch(/<testsuite name="state" tests="1" failures="0" errors="0" skipped="1"/);
    expect(xml).toContain(
      '<failure message="accepted (2xx)">sent: sent &lt;this&gt; &amp; &quot;that&quot;',
    );
    expect(xml).toContain('<skipped message="needs the admin API"/>');
    expect(xml).toContain('<system-out>WARNING\n');
    expect(xml).not.toContain('\u0007');
    expect(xml).toContain('time="1.500"');
  });
});
