// Rotating TOKEN_ENCRYPTION_KEY: tokens read with the previous key are re-sealed, and the built CLI re-seals them all.
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { readAccessToken, resealAccessTokens } from '../../src/oauth/accessTokens';
import { PostgresStore } from '../../src/store/postgres/store';
import { SqliteStore } from '../../src/store/sqlite/store';
import type { Store } from '../../src/store/types';
import { decryptToken, encryptToken } from '../../src/oauth/tokenCipher';
import { createDatabase, sharedPostgres } from '../support/postgres';
import { repoRoot } from '../support/serverProcess';
import { tempDir } from '../support/testApp';
import { runNode } from '../support/runProcess';

const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'rotateTokenKey.js');

const oldKey = randomBytes(32);
const newKey = randomBytes(32);
const strangerKey = randomBytes(32);

type Backend = {
  name: string;
  skip?: string;
  /** A new, empty store and the environment that points the app (and the CLI) at it. */
  create: () => Promise<{ store: Store; env: Record<string, string> }>;
};

const postgres = sharedPostgres();
const backends: Backend[] = [
  {
    name: 'sqlite',
    create: async () => {
      const dataDir = tempDir('hpa-rotate-');
      const store = new SqliteStore({ file: path.join(dataDir, 'heap-partner.sqlite') });
      return { store, env: { DATA_DIR: dataDir } };
    },
  },
  {
    name: 'postgres',
    skip: 'skip' in postgres ? postgres.skip : undefined,
    create: async () => {
      const url = await createDatabase('url' in postgres ? postgres.url : '', 'rotate');
      const { store } = await PostgresStore.open({ url, migrations: 'apply' });
      return { store, env: { DATABASE_URL: url, DATA_DIR: tempDir('hpa-rotate-') } };
    },
  },
];

async function connect(store: Store, idToken: string, key: Buffer, token = `token-of-${idToken}`) {
  await store.upsertConnection({
    idToken,
    envId: `env-id-${idToken}`,
    partnerAppId: '2',
    authorizedBy: 'ada',
    authorizedScope: 'segment',
    authorizedAtUtc: '2026-01-01T00:00:00Z',
    accessTokenSealed: encryptToken(key, token, idToken),
    at: 1000,
  });
}

async function rotate(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const run = await runNode(cli, [], env);
  return { code: run.code, out: run.output };
}

for (const backend of backends) {
  const suite = backend.skip ? describe.skip : describe;
  if (backend.skip) console.warn(`SKIPPED token key rotation on ${backend.name}: ${backend.skip}`);

  suite(`token key rotation on ${backend.name}`, () => {
    let store: Store;
    let env: Record<string, string>;
    beforeEach(async () => {
      ({ store, env } = await backend.create());
      env = {
        ...env,
        NODE_ENV: 'production',
        WEBHOOK_SECRET: 'webhook-secret',
        ADMIN_TOKEN: 'an-admin-token-long-enough',
        TOKEN_ENCRYPTION_KEY: newKey.toString('base64'),
        TOKEN_ENCRYPTION_KEY_PREVIOUS: oldKey.toString('hex'),
      };
    });
    afterEach(async () => {
      await store.close();
    });

    it('reads a token sealed with the previous key and re-seals it with the current one', async () => {
      await connect(store, 'env-a', oldKey);
      const keys = { current: newKey, previous: oldKey };
      expect(await readAccessToken(store, keys, 'env-a')).toBe('token-of-env-a');
      const resealed = (await store.getSealedAccessToken('env-a'))!;
      expect(decryptToken(newKey, resealed, 'env-a')).toBe('token-of-env-a');
      expect(decryptToken(oldKey, resealed, 'env-a')).toBeUndefined();
      // Read again: already current, nothing rewritten.
      expect(await readAccessToken(store, keys, 'env-a')).toBe('token-of-env-a');
      expect(await store.getSealedAccessToken('env-a')).toBe(resealed);
      // Without the previous key, an old token is unreadable (and left alone).
      await connect(store, 'env-b', oldKey);
      const before = await store.getSealedAccessToken('env-b');
      expect(await readAccessToken(store, { current: newKey }, 'env-b')).toBeUndefined();
      expect(await store.getSealedAccessToken('env-b')).toBe(before);
      expect(await readAccessToken(store, keys, 'nobody')).toBeUndefined();
    });

    it('re-seals page by page, past the page size', async () => {
      for (let i = 0; i < 5; i++) await connect(store, `env-${i}`, i % 2 ? newKey : oldKey);
      const keys = { current: newKey, previous: oldKey };
      expect(await resealAccessTokens(store, keys, 2)).toEqual({
        resealed: 3,
        current: 2,
        unreadable: [],
        changed: 0,
      });
      expect(await resealAccessTokens(store, keys, 2)).toMatchObject({ resealed: 0, current: 5 });
    });

    it('npm run rotate-token-key re-seals every token, reports counts, and can run again', async () => {
      for (const id of ['env-1', 'env-2', 'env-3']) await connect(store, id, oldKey);
      await connect(store, 'env-4', newKey);
      const first = await rotate(env);
      expect(first.out).toMatch(/re-sealed 3, already current 1, unreadable 0\n/);
      expect(first.code).toBe(0);
      // The run is in the admin audit log: its counts, never a key or a token.
      const [audited] = await store.listAudit({ limit: 10, event: 'token_key_rotation' });
      expect(audited).toMatchObject({
        client: null,
        detail: { resealed: 3, current: 1, unreadable: 0, changed: 0, failed: false },
      });
      expect(JSON.stringify(audited)).not.toMatch(/token-of-|[0-9a-f]{64}/);
      for (const id of ['env-1', 'env-2', 'env-3', 'env-4']) {
        const sealed = (await store.getSealedAccessToken(id))!;
        expect([id, decryptToken(newKey, sealed, id)]).toEqual([id, `token-of-${id}`]);
      }
      const second = await rotate(env);
      expect(second.out).toMatch(/re-sealed 0, already current 4, unreadable 0\n/);
      expect(second.code).toBe(0);
      // The previous key can now be removed.
      expect((await rotate({ ...env, TOKEN_ENCRYPTION_KEY_PREVIOUS: '' })).code).toBe(0);
    });

    it('exits 1 and names (by env_id) the connections neither key opens, never a token', async () => {
      await connect(store, 'env-ok', oldKey);
      await connect(store, 'env-lost', strangerKey, 'the-lost-plaintext-token');
      const run = await rotate(env);
      expect(run.code).toBe(1);
      expect(run.out).toMatch(/re-sealed 1, already current 0, unreadable 1\n/);
      expect(run.out).toContain('unreadable: env_id env-id-env-lost');
      expect(run.out).not.toContain('the-lost-plaintext-token');
      expect(run.out).not.toContain(newKey.toString('base64'));
      expect(run.out).not.toContain(oldKey.toString('hex'));
      // Left as it was: a key that opens it may still turn up.
      expect(
        decryptToken(strangerKey, (await store.getSealedAccessToken('env-lost'))!, 'env-lost'),
      ).toBe('the-lost-plaintext-token');
    });

    it('exits 2 without TOKEN_ENCRYPTION_KEY, or with a malformed previous key', async () => {
      const missing = await rotate({ ...env, TOKEN_ENCRYPTION_KEY: '' });
      expect([missing.code, missing.out]).toEqual([
        2,
        expect.stringContaining('TOKEN_ENCRYPTION_KEY is not set'),
      ]);
      const malformed = await rotate({ ...env, TOKEN_ENCRYPTION_KEY_PREVIOUS: 'not-a-key' });
      expect(malformed.code).toBe(2);
      expect(malformed.out).toContain('TOKEN_ENCRYPTION_KEY_PREVIOUS must be 32 bytes');
      expect(malformed.out).not.toContain('not-a-key');
    });
  });
}

it('exits 2 when DATA_DIR holds no SQLite database, instead of creating an empty one', async () => {
  const dataDir = tempDir('hpa-rotate-empty-');
  const run = await rotate({
    DATA_DIR: dataDir,
    TOKEN_ENCRYPTION_KEY: newKey.toString('base64'),
  });
  expect(run.code).toBe(2);
  expect(run.out).toContain('There is no SQLite database at');
  // Nor any development secret: only the server generates those.
  expect(readdirSync(dataDir)).toEqual([]);
});
