// Access tokens at rest: AES-256-GCM round trip, tamper and cross-connection detection.
import { randomBytes } from 'node:crypto';
import { decryptToken, encryptToken, openToken } from '../../src/oauth/tokenCipher';
import { parseKey } from '../../src/config/index';

const key = randomBytes(32);

describe('tokenCipher', () => {
  it('round-trips and never contains the plaintext', () => {
    const sealed = encryptToken(key, 'access-token-123', 'id-1');
    expect(sealed).toMatch(/^v1:[\w-]+:[\w-]+:[\w-]+$/);
    expect(sealed).not.toContain('access-token-123');
    expect(decryptToken(key, sealed, 'id-1')).toBe('access-token-123');
  });

  it('uses a fresh IV each time', () => {
    expect(encryptToken(key, 't', 'id')).not.toBe(encryptToken(key, 't', 'id'));
  });

  it('refuses another key, another connection, or a tampered value', () => {
    const sealed = encryptToken(key, 'tok', 'id-1');
    expect(decryptToken(randomBytes(32), sealed, 'id-1')).toBeUndefined();
    expect(decryptToken(key, sealed, 'id-2')).toBeUndefined();
    const parts = sealed.split(':');
    parts[3] = Buffer.from('xxx').toString('base64url');
    expect(decryptToken(key, parts.join(':'), 'id-1')).toBeUndefined();
    expect(decryptToken(key, 'garbage', 'id-1')).toBeUndefined();
  });

  it('refuses a value whose authentication tag was truncated (tag length pinned to 16 bytes)', () => {
    const sealed = encryptToken(key, 'tok', 'id-1');
    const parts = sealed.split(':');
    const tag = Buffer.from(parts[2], 'base64url');
    expect(tag).toHaveLength(16);
    // GCM left unpinned checks a 4..15-byte prefix of the right tag and accepts it.
    for (const length of [4, 8, 12, 15]) {
      parts[2] = tag.subarray(0, length).toString('base64url');
      expect(decryptToken(key, parts.join(':'), 'id-1')).toBeUndefined();
    }
  });
});

describe('openToken', () => {
  const previous = randomBytes(32);

  it('opens with the current key, then the previous one, saying which', () => {
    const keys = { current: key, previous };
    expect(openToken(keys, encryptToken(key, 'tok', 'id-1'), 'id-1')).toEqual({
      plaintext: 'tok',
      stale: false,
    });
    expect(openToken(keys, encryptToken(previous, 'tok', 'id-1'), 'id-1')).toEqual({
      plaintext: 'tok',
      stale: true,
    });
    expect(openToken({ current: key }, encryptToken(previous, 'tok', 'id-1'), 'id-1')).toBe(
      undefined,
    );
    expect(openToken(keys, encryptToken(randomBytes(32), 'tok', 'id-1'), 'id-1')).toBe(undefined);
    expect(openToken(keys, encryptToken(previous, 'tok', 'id-1'), 'id-2')).toBe(undefined);
  });
});

describe('parseKey', () => {
  it('accepts 32-byte base64 or hex keys only', () => {
    const raw = randomBytes(32);
    expect(parseKey(raw.toString('base64'))).toEqual(raw);
    expect(parseKey(raw.toString('hex'))).toEqual(raw);
    expect(parseKey(randomBytes(16).toString('base64'))).toBeUndefined();
    expect(parseKey('not a key')).toBeUndefined();
  });
});
