// Domain rules: user de-duplication, "remove wins", tenant mapping, payload paging.
import { normaliseUsers, tenantLabel, tenantOf, toAcceptedDelivery } from '../../src/webhook/apply';
import { buildDrain, buildSyncPages, dummyUsers } from '../../src/webhook/outgoing';
import { parseWebhookBody } from '../../src/webhook/payload';

describe('normaliseUsers', () => {
  it('de-duplicates each list and lets remove win over add', () => {
    expect(normaliseUsers(['a', 'b', 'a', 'c'], ['c', 'd', 'd'])).toEqual({
      add: ['a', 'b'],
      remove: ['c', 'd'],
    });
    expect(normaliseUsers(['x', 'y'], ['z'])).toEqual({ add: ['x', 'y'], remove: ['z'] });
    expect(normaliseUsers(['x', 'x'], ['x'])).toEqual({ add: [], remove: ['x'] });
  });
});

describe('tenants', () => {
  it('maps a missing id_token to the own-environment key', () => {
    expect(tenantOf(undefined)).toBe('');
    expect(tenantOf('tok')).toBe('tok');
  });

  it('labels tenants for logs without revealing them', () => {
    expect(tenantLabel('')).toBe('own');
    expect(tenantLabel('secret-token')).toMatch(/^[0-9a-f]{12}$/);
    expect(tenantLabel('secret-token')).not.toContain('secret');
  });

  it('builds the store work for a sync page', () => {
    const parsed = parseWebhookBody(
      Buffer.from(
        JSON.stringify(
          buildSyncPages({
            segment: { id: 5, name: 'S' },
            syncTaskId: 't',
            add: ['x', 'y'],
            remove: ['y'],
            pageSize: 10,
          })[0],
        ),
      ),
    );
    if (!parsed.ok) throw new Error(parsed.message);
    const meta = { receivedAt: 1, path: '/webhook', bodySha256: null };
    expect(toAcceptedDelivery(parsed.delivery, meta, 'key').work).toEqual({
      kind: 'sync',
      tenant: '',
      segmentId: 5,
      segmentName: 'S',
      customerConfig: null,
      taskId: 't',
      pageNumber: 1,
      totalPages: 1,
      add: ['x'],
      remove: ['y'],
    });
  });
});

describe('buildSyncPages', () => {
  it('pages adds then removes, numbering pages 1..n with one task id', () => {
    const pages = buildSyncPages({
      idToken: 'tok',
      segment: { id: 1, name: 'S' },
      syncTaskId: 'task',
      add: dummyUsers(5),
      remove: ['gone-1', 'gone-2'],
      pageSize: 3,
    });
    expect(pages.map((p) => p.data.sync_info)).toEqual([
      { page_number: 1, total_pages: 3, sync_task_id: 'task' },
      { page_number: 2, total_pages: 3, sync_task_id: 'task' },
      { page_number: 3, total_pages: 3, sync_task_id: 'task' },
    ]);
    expect(pages[1].data).toMatchObject({
      add: [{ id: 'user-4@example.com' }, { id: 'user-5@example.com' }],
      remove: [{ id: 'gone-1' }],
    });
    expect(pages.every((p) => parseWebhookBody(Buffer.from(JSON.stringify(p))).ok)).toBe(true);
  });

  it('sends one empty page when nothing changed, and refuses a page size below 1', () => {
    const base = { segment: { id: 1, name: 'S' }, syncTaskId: 't', add: [], remove: [] };
    expect(buildSyncPages({ ...base, pageSize: 10 })).toHaveLength(1);
    expect(() => buildSyncPages({ ...base, pageSize: 0 })).toThrow(RangeError);
  });

  it('builds a valid drain', () => {
    const drain = buildDrain({ segment: { id: 2, name: 'D' } });
    expect(parseWebhookBody(Buffer.from(JSON.stringify(drain)))).toMatchObject({
      ok: true,
      delivery: { kind: 'drain', segment: { id: 2 } },
    });
  });
});
