// URL identifiers of the admin API: connection keys map back to exactly one tenant; cursors are opaque and checked.
import { decodeCursor, encodeCursor, connectionKey, tenantOfKey } from '../../src/admin/urlKeys';
import { enumParam, integerParam, limitParam, textParam, timeParam } from '../../src/admin/params';

describe('connection keys', () => {
  it.each([
    ['', 'own'],
    ['env-1', 'env-1'],
    ['own', '~own'],
    ['~x', '~~x'],
    ['a/b c', 'a/b c'],
  ])('tenant %j has key %j and back', (tenant, key) => {
    expect(connectionKey(tenant)).toBe(key);
    expect(tenantOfKey(key)).toBe(tenant);
  });
});

describe('cursors', () => {
  it('round-trip strings and numbers and refuse anything else', () => {
    expect(decodeCursor(encodeCursor('user-ü,9'), 'string')).toBe('user-ü,9');
    expect(decodeCursor(encodeCursor(17), 'number')).toBe(17);
    expect(decodeCursor(encodeCursor(17), 'string')).toBeUndefined();
    expect(decodeCursor(encodeCursor(1.5), 'number')).toBeUndefined();
    for (const junk of [
      '',
      '%%',
      'bm90LWpzb24',
      Buffer.from('{"q":1}').toString('base64url'),
      'a'.repeat(5000),
    ]) {
      expect(decodeCursor(junk, 'string')).toBeUndefined();
    }
  });
});

describe('query parameters', () => {
  it('parses or names what is wrong', () => {
    expect(limitParam(undefined, 100, 1000)).toEqual({ ok: true, value: 100 });
    expect(limitParam('1000', 100, 1000)).toEqual({ ok: true, value: 1000 });
    expect(limitParam('1001', 100, 1000)).toEqual({
      ok: false,
      message: expect.stringContaining('limit must be a whole number from 1 to 1000'),
    });
    expect(integerParam(['1', '2'], 'after', { min: 0, max: 9 })).toEqual({
      ok: false,
      message: 'after must be given once, as a plain value.',
    });
    expect(enumParam('rejected', 'status', ['applied', 'rejected'])).toEqual({
      ok: true,
      value: 'rejected',
    });
    expect(enumParam('lost', 'status', ['applied'])).toMatchObject({ ok: false });
    expect(textParam('x'.repeat(11), 'prefix', 10)).toMatchObject({ ok: false });
    expect(timeParam('1700000000000', 'since')).toEqual({ ok: true, value: 1_700_000_000_000 });
    expect(timeParam('2025-01-31T12:00:00Z', 'since')).toEqual({
      ok: true,
      value: Date.UTC(2025, 0, 31, 12),
    });
    expect(timeParam('2025-01-31', 'since')).toEqual({ ok: true, value: Date.UTC(2025, 0, 31) });
    for (const bad of ['yesterday', '2025-13-45T00:00:00Z', '-5']) {
      expect(timeParam(bad, 'since')).toMatchObject({ ok: false });
    }
  });
});
