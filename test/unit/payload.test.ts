// Payload parsing: typed deliveries out, precise invalid_json / invalid_payload messages for bad bodies.
import { parseWebhookBody } from '../../src/webhook/payload';

const parse = (value: unknown) =>
  parseWebhookBody(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)));

const sync = (data: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  action_type: 'segment.users.sync',
  ...extra,
  data: {
    segment: { id: 7, name: 'Seg' },
    sync_info: { page_number: 1, total_pages: 2, sync_task_id: 'CustomerTask' },
    ...data,
  },
});

describe('parseWebhookBody', () => {
  it('turns a sync page into a typed delivery', () => {
    const result = parse(sync({ add: [{ id: 'a' }], remove: [{ id: 'b' }] }, { id_token: 'Tok' }));
    expect(result).toEqual({
      ok: true,
      delivery: {
        kind: 'sync',
        actionType: 'segment.users.sync',
        idToken: 'Tok',
        segment: { id: 7, name: 'Seg' },
        customerConfig: null,
        syncInfo: { pageNumber: 1, totalPages: 2, syncTaskId: 'CustomerTask' },
        add: ['a'],
        remove: ['b'],
      },
    });
  });

  it('accepts non-UUID id_token and sync_task_id, unknown extra fields and null customer_config', () => {
    const body = sync({ future_field: { x: 1 } }, { id_token: 'CustomerIdToken', extra: true });
    expect(parse({ ...body, customer_config: null }).ok).toBe(true);
  });

  it('accepts segment ids up to 2^53-1 and refuses larger ones', () => {
    const big = sync({ segment: { id: Number.MAX_SAFE_INTEGER } });
    expect(parse(big)).toMatchObject({ ok: true, delivery: { segment: { id: 2 ** 53 - 1 } } });
    const tooBig = JSON.stringify(sync({})).replace('"id":7', '"id":9007199254740993');
    expect(parse(tooBig)).toEqual({
      ok: false,
      error: 'invalid_payload',
      message: '$.data.segment.id: must be <= 9007199254740991',
    });
  });

  it('turns a drain into a typed delivery, id_token absent', () => {
    const result = parse({ action_type: 'segment.users.drain', data: { segment: { id: 3 } } });
    expect(result).toMatchObject({
      ok: true,
      delivery: { kind: 'drain', idToken: undefined, segment: { id: 3 } },
    });
  });

  it('accepts unknown actions as "other", keeping a segment id when there is one', () => {
    expect(parse({ action_type: 'segment.renamed', data: { segment: { id: 5 } } })).toMatchObject({
      ok: true,
      delivery: { kind: 'unknown', actionType: 'segment.renamed', segmentId: 5 },
    });
    expect(parse({ action_type: 'x', data: 'anything' })).toMatchObject({
      ok: true,
      delivery: { kind: 'unknown', segmentId: null },
    });
  });

  it.each([
    ['', 'invalid_json', /^Body is not valid JSON/],
    ['{"action_type":', 'invalid_json', /^Body is not valid JSON/],
    ['[]', 'invalid_payload', /^\$: must be object$/],
    ['"text"', 'invalid_payload', /^\$: must be object$/],
    ['{}', 'invalid_payload', /^\$\.action_type: is required$/],
    ['{"action_type":""}', 'invalid_payload', /^\$\.action_type: must NOT have fewer than 1/],
    ['{"action_type":"segment.users.sync"}', 'invalid_payload', /^\$\.data: is required$/],
    [
      '{"action_type":"segment.users.drain","data":{"segment":{"id":-1}}}',
      'invalid_payload',
      /^\$\.data\.segment\.id: must be >= 0$/,
    ],
    [
      '{"action_type":"segment.users.drain","data":{"segment":{"id":1.5}}}',
      'invalid_payload',
      /^\$\.data\.segment\.id: must be integer$/,
    ],
    ['{"action_type":"segment.users.sync","id_token":"","data":{}}', 'invalid_payload', /id_token/],
    // PostgreSQL text cannot hold NUL, so neither store accepts it in a string it keeps.
    [
      JSON.stringify(sync({ add: [{ id: 'a\u0000b' }] })),
      'invalid_payload',
      /^\$\.data\.add\[0\]\.id: must match pattern/,
    ],
    [JSON.stringify(sync({}, { id_token: 'env\u0000' })), 'invalid_payload', /^\$\.id_token/],
    ['{"action_type":"x\\u0000"}', 'invalid_payload', /^\$\.action_type: must match pattern/],
  ])('refuses %j as %s', (body, error, message) => {
    const result = parse(body);
    expect(result).toMatchObject({ ok: false, error });
    expect(!result.ok && result.message).toMatch(message);
  });

  it.each([
    [{ sync_info: undefined }, '$.data.sync_info: is required'],
    [{ segment: { name: 'x' } }, '$.data.segment.id: is required'],
    [
      { sync_info: { page_number: 0, total_pages: 1, sync_task_id: 't' } },
      '$.data.sync_info.page_number: must be >= 1',
    ],
    [
      { sync_info: { page_number: 1, total_pages: 1, sync_task_id: '' } },
      '$.data.sync_info.sync_task_id: must NOT have fewer than 1 characters',
    ],
    [{ add: [{ id: 'a' }, { id: 5 }] }, '$.data.add[1].id: must be string'],
    [{ remove: [{ name: 'x' }] }, '$.data.remove[0].id: is required'],
    [{ add: { id: 'a' } }, '$.data.add: must be array'],
  ])('names the offending path for a bad sync (%#)', (data, message) => {
    expect(parse(sync(data))).toEqual({ ok: false, error: 'invalid_payload', message });
  });
});
