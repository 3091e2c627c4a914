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
    ['hex hmac', `ts:${NOW},hmac:${Buffer.from(hmac, 'base64').toString('hex')}`],
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
  it('returns ts and hmac as strings', () => {
    const hmac = reference(SECRET, '1', '');
    expect(parseHeapHash(`ts:1,hmac:${hmac}`)).toEqual({ ts: '1', hmac });
    expect(parseHeapHash('ts:1')).toBeUndefined();
  });
});
