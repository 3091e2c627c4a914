// Signature vectors: valid, tampered, wrong secret, tolerance both ways, malformed headers, rotation.
import { createHmac } from 'node:crypto';
import {
  computeHeapHmac,
  parseHeapHash,
  signHeapHash,
  verifyHeapHash,
  type VerifyOptions,
} from '../../src/webhook/signature';

const SECRET = 'whsec-unit';
const NOW = 1_764_403_200_000;
const BODY = '{"action_type":"segment.users.sync","data":{"segment":{"id":1}}}';

// An independent computation of Heap's algorithm, so the module is checked against the spec.
function reference(secret: string, ts: string, body: string): string {
  return createHmac('sha256', secret)
    .update(ts + body)
    .digest('base64');
}

function verify(overrides: Partial<VerifyOptions>) {
  return verifyHeapHash({
    header: signHeapHash(SECRET, BODY, NOW),
    body: BODY,
    secrets: [SECRET],
    nowMs: NOW,
    ...overrides,
  });
}

describe('signHeapHash', () => {
  it('produces ts:<ms>,hmac:<base64 HMAC-SHA256(secret, ts + body)>', () => {
    expect(signHeapHash(SECRET, BODY, NOW)).toBe(
      `ts:${NOW},hmac:${reference(SECRET, String(NOW), BODY)}`,
    );
  });

  it('matches a fixed vector', () => {
    expect(computeHeapHmac('secret', '1500000000000', '{}')).toBe(
      createHmac('sha256', 'secret').update('1500000000000{}').digest('base64'),
    );
    expect(computeHeapHmac('secret', '1500000000000', '{}')).toHaveLength(44);
  });

  it('signs Buffers and strings identically, with UTF-8 secrets', () => {
    const body = '{"id":"zoë@example.com"}';
    expect(signHeapHash('sécret', Buffer.from(body), NOW)).toBe(signHeapHash('sécret', body, NOW));
  });
});

describe('verifyHeapHash', () => {
  it('accepts a correctly signed body and reports a replay key', () => {
    const result = verify({});
    expect(result).toMatchObject({ ok: true, timestampMs: NOW, secretIndex: 0 });
    expect(result.ok && result.signatureKey).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives the same replay key to the same signed request, a different one to another', () => {
    const a = verify({});
    const b = verify({});
    const c = verify({ header: signHeapHash(SECRET, BODY, NOW + 1), nowMs: NOW + 1 });
    expect(a.ok && b.ok && c.ok).toBe(true);
    if (a.ok && b.ok && c.ok) {
      expect(a.signatureKey).toBe(b.signatureKey);
      expect(c.signatureKey).not.toBe(a.signatureKey);
    }
  });

  it('verifies the raw bytes: non-compact JSON signed as sent is accepted', () => {
    const pretty = JSON.stringify(JSON.parse(BODY), null, 2);
    expect(verify({ header: signHeapHash(SECRET, pretty, NOW), body: pretty }).ok).toBe(true);
    // …and the compact re-serialisation of it is a different body.
    expect(verify({ header: signHeapHash(SECRET, pretty, NOW), body: BODY })).toEqual({
      ok: false,
      reason: 'invalid_signature',
    });
  });

  it('refuses a tampered body', () => {
    expect(verify({ body: BODY.replace('"id":1', '"id":2') })).toEqual({
      ok: false,
      reason: 'invalid_signature',
    });
  });

  it('refuses the wrong secret', () => {
    expect(verify({ secrets: ['another-secret'] })).toEqual({
      ok: false,
      reason: 'invalid_signature',
    });
  });

  it('refuses a signature whose ts was changed after signing', () => {
    const hmac = reference(SECRET, String(NOW), BODY);
    expect(verify({ header: `ts:${NOW - 1},hmac:${hmac}` })).toEqual({
      ok: false,
      reason: 'invalid_signature',
    });
  });

  it('applies the default tolerance: 300 s old, 60 s ahead, inclusive', () => {
    const at = (offsetMs: number) => verify({ header: signHeapHash(SECRET, BODY, NOW + offsetMs) });
    expect(at(-300_000).ok).toBe(true);
    expect(at(-300_001)).toEqual({ ok: false, reason: 'timestamp_out_of_tolerance' });
    expect(at(60_000).ok).toBe(true);
    expect(at(60_001)).toEqual({ ok: false, reason: 'timestamp_out_of_tolerance' });
  });

  it('applies a configured tolerance', () => {
    const header = signHeapHash(SECRET, BODY, NOW - 10_000);
    expect(verify({ header, toleranceOldMs: 5_000 }).ok).toBe(false);
    expect(verify({ header, toleranceOldMs: 20_000 }).ok).toBe(true);
    const ahead = signHeapHash(SECRET, BODY, NOW + 2_000);
    expect(verify({ header: ahead, toleranceAheadMs: 1_000 }).ok).toBe(false);
  });

  it('accepts the previous secret during a rotation and says which one matched', () => {
    const header = signHeapHash('old-secret', BODY, NOW);
    expect(verify({ header, secrets: [SECRET, 'old-secret'] })).toMatchObject({
      ok: true,
      secretIndex: 1,
    });
    expect(verify({ header, secrets: [SECRET] }).ok).toBe(false);
  });

  it('ignores empty secrets instead of accepting HMACs keyed with nothing', () => {
    const header = signHeapHash('', BODY, NOW);
    expect(verify({ header, secrets: [''] }).ok).toBe(false);
  });

  it('says missing_signature for an absent or empty header', () => {
    expect(verify({ header: undefined })).toEqual({ ok: false, reason: 'missing_signature' });
    expect(verify({ header: '' })).toEqual({ ok: false, reason: 'missing_signature' });
  });

  it('tolerates whitespace and key order', () => {
    const hmac = reference(SECRET, String(NOW), BODY);
    for (const header of [
      `hmac:${hmac},ts:${NOW}`,
      ` ts : ${NOW} , hmac : ${hmac} `,
      `ts:${NOW},\thmac:${hmac}`,
    ]) {
      expect(verify({ header }).ok).toBe(true);
    }
  });

  const hmac = reference(SECRET, String(NOW), BODY);
  it.each([
    ['garbage', 'not a signature'],
    ['only ts', `ts:${NOW}`],
    ['only hmac', `hmac:${hmac}`],
    ['repeated key', `ts:${NOW},ts:${NOW},hmac:${hmac}`],
    ['unknown key', `ts:${NOW},hmac:${hmac},v:1`],
    ['trailing comma', `ts:${NOW},hmac:${hmac},`],
    ['semicolon separator', `ts:${NOW};hmac:${hmac}`],
    ['equals separator', `ts=${NOW},hmac=${hmac}`],
    ['upper-case key', `TS:${NOW},hmac:${hmac}`],
    ['seconds with fraction', `ts:${NOW / 1000}.5,hmac:${hmac}`],
    ['negative ts', `ts:-${NOW},hmac:${hmac}`],
    ['ts too long', `ts:1${'0'.repeat(20)},hmac:${hmac}`],
    [
      'hex hmac of 63 digits',
      `ts:${NOW},hmac:${Buffer.from(hmac, 'base64').toString('hex').slice(1)}`,
    ],
    ['hex hmac with 0x', `ts:${NOW},hmac:0x${Buffer.from(hmac, 'base64').toString('hex')}`],
    ['sha1-length hex hmac', `ts:${NOW},hmac:${'ab'.repeat(20)}`],
    ['unpadded hmac', `ts:${NOW},hmac:${hmac.replace(/=+$/, '')}`],
    ['base64url hmac', `ts:${NOW},hmac:${'-_'.repeat(21)}A=`],
    ['short hmac', `ts:${NOW},hmac:${hmac.slice(4)}`],
    ['sha1-length hmac', `ts:${NOW},hmac:${Buffer.alloc(20).toString('base64')}`],
    ['prefixed hmac', `ts:${NOW},hmac:sha256=${hmac}`],
  ])('says malformed_signature for %s', (_name, header) => {
    expect(verify({ header })).toEqual({ ok: false, reason: 'malformed_signature' });
  });

  it('says malformed_signature for repeated Heap-Hash headers', () => {
    const header = signHeapHash(SECRET, BODY, NOW);
    expect(verify({ header: [header, header] })).toEqual({
      ok: false,
      reason: 'malformed_signature',
    });
  });

  it('never throws and never returns the expected HMAC, whatever the input', () => {
    const expected = reference(SECRET, String(NOW), BODY);
    const inputs = ['ts:', ':', ',,,', 'ts:1,hmac:', '\u0000', 'ts:99999999999999999999,hmac:x'];
    for (const header of inputs) {
      const result = verify({ header });
      expect(result.ok).toBe(false);
      expect(JSON.stringify(result)).not.toContain(expected);
    }
  });
});

describe('parseHeapHash', () => {
  it('returns ts and hmac as received, the decoded bytes and the time in ms', () => {
    const hmac = reference(SECRET, String(NOW), '');
    expect(parseHeapHash(`ts:${NOW},hmac:${hmac}`)).toEqual({
      ts: String(NOW),
      hmac,
      bytes: Buffer.from(hmac, 'base64'),
      timestampMs: NOW,
    });
    expect(parseHeapHash('ts:1')).toBeUndefined();
  });

  it('reads a ts below 10^11 as unix seconds and one at or above it as milliseconds', () => {
    const hmac = reference(SECRET, '1', '');
    expect(parseHeapHash(`ts:99999999999,hmac:${hmac}`)?.timestampMs).toBe(99_999_999_999_000);
    expect(parseHeapHash(`ts:100000000000,hmac:${hmac}`)?.timestampMs).toBe(100_000_000_000);
    expect(parseHeapHash(`ts:1764403200,hmac:${hmac}`)?.timestampMs).toBe(NOW);
  });
});

describe('published variants of Heap-Hash: hex HMAC and ts in seconds', () => {
  const hex = (ts: string) => Buffer.from(reference(SECRET, ts, BODY), 'base64').toString('hex');

  it('verifies a hex HMAC, lower- or upper-case, as it would the base64 one', () => {
    const lower = hex(String(NOW));
    for (const value of [lower, lower.toUpperCase()]) {
      expect(verify({ header: `ts:${NOW},hmac:${value}` })).toMatchObject({
        ok: true,
        timestampMs: NOW,
      });
    }
    expect(signHeapHash(SECRET, BODY, NOW, { hmac: 'hex', ts: 'ms' })).toBe(
      `ts:${NOW},hmac:${lower}`,
    );
  });

  it('gives a hex HMAC the same replay key as the same HMAC in base64', () => {
    const base64 = verify({});
    const hexed = verify({ header: `ts:${NOW},hmac:${hex(String(NOW))}` });
    expect(base64.ok && hexed.ok && hexed.signatureKey === base64.signatureKey).toBe(true);
  });

  it('refuses a wrong hex HMAC as invalid_signature, never echoing the expected one', () => {
    const expected = hex(String(NOW));
    const wrong = (expected[0] === '0' ? '1' : '0') + expected.slice(1);
    const result = verify({ header: `ts:${NOW},hmac:${wrong}` });
    expect(result).toEqual({ ok: false, reason: 'invalid_signature' });
    expect(JSON.stringify(result)).not.toContain(expected);
  });

  it('verifies ts in seconds over the ts text as sent, within the same tolerance', () => {
    const seconds = String(NOW / 1000);
    const header = signHeapHash(SECRET, BODY, NOW, { hmac: 'base64', ts: 's' });
    expect(header).toBe(`ts:${seconds},hmac:${reference(SECRET, seconds, BODY)}`);
    expect(verify({ header })).toMatchObject({ ok: true, timestampMs: NOW });
    // The tolerance counts in ms as before: 301 s old and 61 s ahead are refused.
    expect(verify({ header, nowMs: NOW + 301_000 })).toEqual({
      ok: false,
      reason: 'timestamp_out_of_tolerance',
    });
    expect(verify({ header, nowMs: NOW - 61_000 })).toEqual({
      ok: false,
      reason: 'timestamp_out_of_tolerance',
    });
    // The HMAC covers the seconds text: the same signature under the ms spelling fails.
    const hmac = reference(SECRET, seconds, BODY);
    expect(verify({ header: `ts:${NOW},hmac:${hmac}` })).toEqual({
      ok: false,
      reason: 'invalid_signature',
    });
  });
});
