// Heap's published webhook variants (src/webhook/variants.ts), each signed and sent over real HTTP to the app on SQLite and PostgreSQL, with its membership effect checked.
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { SQLITE_FILE } from '../../src/config/store';
import { applyMigrations, loadMigrations } from '../../src/store/postgres/migrations';
import { signHeapHash } from '../../src/webhook/signature';
import { PUBLISHED_VARIANTS, signVariant } from '../../src/webhook/variants';
import { describeEachStore, onFreshStore } from '../support/backends';
import { describePostgres } from '../support/describePostgres';
import { createDatabase } from '../support/postgres';
import {
  allMembers,
  openTestApp,
  signedPost,
  syncBody,
  tempDir,
  TEST_SECRET,
  type TestApp,
} from '../support/testApp';

let t: TestApp;

/** POSTs a raw body with exactly this Heap-Hash header to /webhook. */
const post = (raw: string, header: string) => signedPost(t.app, '/webhook', raw, { header });

describeEachStore('published webhook variants', (backend) => {
  onFreshStore(backend, (app) => (t = app));

  it.each(PUBLISHED_VARIANTS.map((variant) => [variant.name, variant] as const))(
    'accepts %s and applies it',
    async (_name, variant) => {
      const raw = JSON.stringify(variant.body);
      const res = await post(raw, signVariant(variant, TEST_SECRET, raw));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        status: 'applied',
        action_type: 'segment.users.sync',
        segment_id: variant.effect.segmentId,
        member_count: variant.effect.members.length,
        added: variant.effect.members.length,
        removed: 0,
      });
      const { tenant, segmentId, members } = variant.effect;
      expect(await allMembers(t.store, tenant, segmentId)).toEqual(members);
    },
  );

  it('every variant on one receiver: each segment holds exactly its own members', async () => {
    for (const variant of PUBLISHED_VARIANTS) {
      const raw = JSON.stringify(variant.body);
      await post(raw, signVariant(variant, TEST_SECRET, raw)).expect(200);
    }
    for (const { effect } of PUBLISHED_VARIANTS) {
      expect(await allMembers(t.store, effect.tenant, effect.segmentId)).toEqual(effect.members);
    }
  });

  describe('no sync_info', () => {
    const body = (add: string[], segmentId: number | string = 4200501) =>
      JSON.stringify({
        action_type: 'segment.users.sync',
        data: { segment: { id: segmentId, name: 'S' }, add: add.map((id) => ({ id })) },
      });

    it('applies a retry of the same body (re-signed later) once, and a different body again', async () => {
      const raw = body(['a', 'b']);
      await post(raw, signHeapHash(TEST_SECRET, raw, Date.now() - 2000)).expect(200);
      const drained = JSON.stringify({
        action_type: 'segment.users.drain',
        data: { segment: { id: 4200501 } },
      });
      // Between the two: the segment is emptied, so a second application would show.
      await post(drained, signHeapHash(TEST_SECRET, drained)).expect(200);
      const retry = await post(raw, signHeapHash(TEST_SECRET, raw)).expect(200);
      expect(retry.body).toMatchObject({ status: 'duplicate', added: 0, member_count: 0 });
      expect(await allMembers(t.store, '', 4200501)).toEqual([]);

      const other = body(['c']);
      await post(other, signHeapHash(TEST_SECRET, other)).expect(200);
      expect(await allMembers(t.store, '', 4200501)).toEqual(['c']);
    });

    it('remembers the body per environment and segment: the same users elsewhere apply', async () => {
      const raw = body(['a']);
      await post(raw, signHeapHash(TEST_SECRET, raw)).expect(200);
      const otherSegment = body(['a'], 4200599);
      const res = await post(otherSegment, signHeapHash(TEST_SECRET, otherSegment)).expect(200);
      expect(res.body).toMatchObject({ status: 'applied', added: 1 });
      const withToken = JSON.stringify({ id_token: 'env-x', ...JSON.parse(raw) });
      const res2 = await post(withToken, signHeapHash(TEST_SECRET, withToken)).expect(200);
      expect(res2.body).toMatchObject({ status: 'applied', added: 1 });
    });

    it('records the body as a one-page sync task named by its sha-256', async () => {
      const raw = body(['a']);
      await post(raw, signHeapHash(TEST_SECRET, raw)).expect(200);
      const tasks = await t.store.listSyncTasks('', 4200501, { limit: 10 });
      expect(tasks).toEqual([
        expect.objectContaining({ totalPages: 1, pagesReceived: 1, complete: true }),
      ]);
      expect(tasks[0].taskId).toMatch(/^body-sha256:[0-9a-f]{64}$/);
    });
  });

  it('"777" and 777 are one segment for syncs and drains', async () => {
    const sync = (id: number | string, add: string[]) =>
      JSON.stringify(syncBody({ segmentId: id as number, idToken: 'env-1', add }));
    const a = sync('777', ['a']);
    const b = sync(777, ['b']);
    await post(a, signHeapHash(TEST_SECRET, a)).expect(200);
    const second = await post(b, signHeapHash(TEST_SECRET, b)).expect(200);
    expect(second.body).toMatchObject({ segment_id: 777, member_count: 2 });
    expect(await allMembers(t.store, 'env-1', 777)).toEqual(['a', 'b']);
    expect(await t.store.listSegments({ tenant: 'env-1' })).toHaveLength(1);

    const drain = JSON.stringify({
      id_token: 'env-1',
      action_type: 'segment.users.drain',
      data: { segment: { id: '777', name: 'Test segment' } },
    });
    const drained = await post(drain, signHeapHash(TEST_SECRET, drain)).expect(200);
    expect(drained.body).toMatchObject({ segment_id: 777, removed: 2, member_count: 0 });
  });

  it('a null or absent segment name keeps the stored name', async () => {
    const named = JSON.stringify(syncBody({ segmentId: 9, add: ['a'] }));
    await post(named, signHeapHash(TEST_SECRET, named)).expect(200);
    for (const name of [null, undefined]) {
      const page = syncBody({ segmentId: 9, add: ['b'] });
      const raw = JSON.stringify({ ...page, data: { ...page.data, segment: { id: 9, name } } });
      await post(raw, signHeapHash(TEST_SECRET, raw)).expect(200);
    }
    expect(await t.store.getSegment('', 9)).toMatchObject({ name: 'Test segment', memberCount: 2 });
  });

  it('stores partner_config as the customer_config, and keeps it when neither is sent', async () => {
    const variant = PUBLISHED_VARIANTS.find((v) => v.name === 'partner-config')!;
    const raw = JSON.stringify(variant.body);
    await post(raw, signVariant(variant, TEST_SECRET, raw)).expect(200);
    const config = (variant.body as { partner_config: unknown }).partner_config;
    expect(await t.store.getSegment('', variant.effect.segmentId)).toMatchObject({
      customerConfig: config,
    });
    const bare = JSON.stringify(syncBody({ segmentId: variant.effect.segmentId, add: ['z'] }));
    await post(bare, signHeapHash(TEST_SECRET, bare)).expect(200);
    expect(await t.store.getSegment('', variant.effect.segmentId)).toMatchObject({
      customerConfig: config,
    });
  });

  it('finds an integer user id by its decimal string, and removes it by either spelling', async () => {
    const variant = PUBLISHED_VARIANTS.find((v) => v.name === 'numeric-user-id')!;
    const raw = JSON.stringify(variant.body);
    await post(raw, signVariant(variant, TEST_SECRET, raw)).expect(200);
    expect(await t.store.isMember('', variant.effect.segmentId, '12345')).toBe(true);
    expect(await t.store.segmentsOfUser('', '12345')).toMatchObject([
      { segmentId: variant.effect.segmentId },
    ]);
    const remove = JSON.stringify({
      action_type: 'segment.users.sync',
      data: {
        segment: { id: variant.effect.segmentId },
        remove: [{ id: 12345 }, { id: '67890' }],
      },
    });
    const res = await post(remove, signHeapHash(TEST_SECRET, remove)).expect(200);
    expect(res.body).toMatchObject({ removed: 2, member_count: 1 });
    expect(await allMembers(t.store, '', variant.effect.segmentId)).toEqual(['mixed@example.com']);
  });

  describe('what is still refused: 400 invalid_payload with the JSON path, nothing applied', () => {
    it.each([
      [
        'action and action_type that differ',
        { action: 'segment.users.drain', ...syncBody({ add: ['a'] }) },
        '$.action: must equal $.action_type when both are sent',
      ],
      [
        'partner_config and customer_config that differ',
        { ...syncBody({ add: ['a'] }), customer_config: { a: 1 }, partner_config: { a: 2 } },
        '$.partner_config: must equal $.customer_config when both are sent',
      ],
      [
        'a segment id that is not a decimal integer string',
        { ...syncBody({ add: ['a'] }), data: { segment: { id: 'seg-42' }, add: [{ id: 'a' }] } },
        '$.data.segment.id: must match pattern "^(0|[1-9][0-9]{0,15})$"',
      ],
      [
        'a user id that is not an integer',
        { action: 'segment.users.sync', data: { segment: { id: 42 }, add: [{ id: 1.5 }] } },
        '$.data.add[0].id: must be integer',
      ],
      [
        'an empty id_token',
        { id_token: '', ...syncBody({ add: ['a'] }) },
        '$.id_token: must NOT have fewer than 1 characters',
      ],
    ])('%s', async (_name, body, message) => {
      const raw = JSON.stringify(body);
      const res = await post(raw, signHeapHash(TEST_SECRET, raw)).expect(400);
      expect(res.body).toEqual({ error: 'invalid_payload', message });
      expect(await t.store.listSegments({})).toEqual([]);
    });
  });

  describe('Heap-Hash variants are still authenticated', () => {
    const raw = JSON.stringify(syncBody({ add: ['a'] }));

    it('refuses a wrong hex HMAC without echoing the expected one in either encoding', async () => {
      const ts = String(Date.now());
      const expectedHex = signHeapHash(TEST_SECRET, raw, Number(ts), {
        hmac: 'hex',
        ts: 'ms',
      }).split('hmac:')[1];
      const expectedBase64 = Buffer.from(expectedHex, 'hex').toString('base64');
      const wrong = (expectedHex[0] === 'a' ? 'b' : 'a') + expectedHex.slice(1);
      const res = await post(raw, `ts:${ts},hmac:${wrong}`).expect(403);
      expect(res.body.error).toBe('invalid_signature');
      for (const secretish of [
        expectedHex,
        expectedHex.toUpperCase(),
        expectedBase64,
        TEST_SECRET,
      ]) {
        expect(res.text).not.toContain(secretish);
      }
      expect(await t.store.listSegments({})).toEqual([]);
    });

    it('applies the tolerance to a ts in seconds', async () => {
      const stale = signHeapHash(TEST_SECRET, raw, Date.now() - 301_000, { hmac: 'hex', ts: 's' });
      expect((await post(raw, stale).expect(403)).body.error).toBe('timestamp_out_of_tolerance');
      const future = signHeapHash(TEST_SECRET, raw, Date.now() + 120_000, {
        hmac: 'base64',
        ts: 's',
      });
      expect((await post(raw, future).expect(403)).body.error).toBe('timestamp_out_of_tolerance');
      expect(await t.store.listSegments({})).toEqual([]);
    });

    it('treats the same signature re-encoded in hex as a replay', async () => {
      const now = Date.now();
      const base64 = signHeapHash(TEST_SECRET, raw, now);
      const hex = signHeapHash(TEST_SECRET, raw, now, { hmac: 'hex', ts: 'ms' });
      await post(raw, base64).expect(200);
      const replay = await post(raw, hex).expect(200);
      expect(replay.body).toMatchObject({ status: 'duplicate', added: 0 });
      const deliveries = await t.store.listDeliveries({ limit: 1 });
      expect(deliveries[0]).toMatchObject({ status: 'duplicate', reason: 'duplicate_signature' });
    });
  });
});

describe('published variants on a file written by the version-1 build (test/fixtures/sqlite-v1.sqlite)', () => {
  let app: TestApp;
  beforeEach(async () => {
    const dataDir = tempDir('hpa-variants-fixture-');
    copyFileSync(
      path.join(__dirname, '..', 'fixtures', 'sqlite-v1.sqlite'),
      path.join(dataDir, SQLITE_FILE),
    );
    app = await openTestApp({}, dataDir);
    t = app;
  });
  afterEach(() => app.close());

  it('finds the segments written before by their string spelling as well as the integer', async () => {
    // tenant-a's segment 11 holds u1 u3 u4; the own environment's segment 22 holds u1 u9.
    const page = JSON.stringify({
      id_token: 'tenant-a',
      action: 'segment.users.sync',
      data: { segment: { id: '11', name: null }, add: [{ id: 'u5' }], remove: [{ id: 'u1' }] },
    });
    const res = await post(page, signHeapHash(TEST_SECRET, page)).expect(200);
    expect(res.body).toMatchObject({ status: 'applied', segment_id: 11, member_count: 3 });
    expect(await allMembers(app.store, 'tenant-a', 11)).toEqual(['u3', 'u4', 'u5']);
    expect(await app.store.getSegment('tenant-a', 11)).toMatchObject({ name: 'Trial users' });

    const drain = JSON.stringify({
      action_type: 'segment.users.drain',
      data: { segment: { id: '22' } },
    });
    const drained = await post(drain, signHeapHash(TEST_SECRET, drain)).expect(200);
    expect(drained.body).toMatchObject({ segment_id: 22, removed: 2, member_count: 0 });
    expect(await app.store.listSegments({})).toHaveLength(3);
  });
});

describePostgres('published variants on a database written at schema 001', (baseUrl) => {
  it('finds the segments written before by their string spelling as well as the integer', async () => {
    const url = await createDatabase(baseUrl);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      // As a build at 001 left it: tenant-a's segment 11 with members u1 u3 u4.
      await applyMigrations(client, [loadMigrations()[0]]);
      const { rows } = await client.query<{ sid: string }>(
        `INSERT INTO segments (tenant, segment_id, name, member_count, created_at, updated_at)
         VALUES ('tenant-a', 11, 'Trial users', 3, 1000, 1000) RETURNING sid`,
      );
      await client.query(
        `INSERT INTO members (sid, user_id, added_at) VALUES ($1, 'u1', 1000), ($1, 'u3', 1000), ($1, 'u4', 1000)`,
        [rows[0].sid],
      );
    } finally {
      await client.end();
    }
    const app = await openTestApp({ DATABASE_URL: url });
    t = app;
    try {
      const page = JSON.stringify({
        id_token: 'tenant-a',
        action: 'segment.users.sync',
        data: { segment: { id: '11', name: null }, add: [{ id: 'u5' }], remove: [{ id: 'u1' }] },
      });
      const res = await post(page, signHeapHash(TEST_SECRET, page)).expect(200);
      expect(res.body).toMatchObject({ status: 'applied', segment_id: 11, member_count: 3 });
      expect(await allMembers(app.store, 'tenant-a', 11)).toEqual(['u3', 'u4', 'u5']);
      expect(await app.store.getSegment('tenant-a', 11)).toMatchObject({ name: 'Trial users' });
      expect(await app.store.listSegments({})).toHaveLength(1);
    } finally {
      await app.close();
    }
  });
});
