// Payload parsing: typed deliveries out, precise invalid_json / invalid_payload messages for bad bodies.
import { createHash } from 'node:crypto';
import { parseWebhookBody } from '../../src/webhook/payload';
import { PUBLISHED_VARIANTS } from '../../src/webhook/variants';

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
    [
      { sync_info: { page_number: 1, total_pages: 1 } },
      '$.data.sync_info.sync_task_id: is required',
    ],
    [{ segment: { name: 'x' } }, '$.data.segment.id: is required'],
    [
      { sync_info: { page_number: 0, total_pages: 1, sync_task_id: 't' } },
      '$.data.sync_info.page_number: must be >= 1',
    ],
    [
      { sync_info: { page_number: 1, total_pages: 1, sync_task_id: '' } },
      '$.data.sync_info.sync_task_id: must NOT have fewer than 1 characters',
    ],
    [{ add: [{ id: 'a' }, { id: 5.5 }] }, '$.data.add[1].id: must be integer'],
    [{ add: [{ id: 'a' }, { id: '' }] }, '$.data.add[1].id: must NOT have fewer than 1 characters'],
    [
      { add: [{ id: 'a' }, { id: true }] },
      '$.data.add[1].id: must be a non-empty string, or an integer from -9007199254740991 to 9007199254740991',
    ],
    [{ remove: [{ id: 2 ** 53 }] }, '$.data.remove[0].id: must be <= 9007199254740991'],
    [{ segment: { id: '0777' } }, '$.data.segment.id: must match pattern "^(0|[1-9][0-9]{0,15})$"'],
    [{ segment: { id: ' 777' } }, '$.data.segment.id: must match pattern "^(0|[1-9][0-9]{0,15})$"'],
    [{ segment: { id: '9007199254740992' } }, '$.data.segment.id: must be <= 9007199254740991'],
    [
      { segment: { id: null } },
      '$.data.segment.id: must be an integer from 0 to 9007199254740991, or that integer as a decimal string',
    ],
    [{ segment: { id: 7, name: 5 } }, '$.data.segment.name: must be string,null'],
    [{ remove: [{ name: 'x' }] }, '$.data.remove[0].id: is required'],
    [{ add: { id: 'a' } }, '$.data.add: must be array'],
  ])('names the offending path for a bad sync (%#)', (data, message) => {
    expect(parse(sync(data))).toEqual({ ok: false, error: 'invalid_payload', message });
  });

  describe('published variants (README, "What we accept beyond Heap\'s current spec")', () => {
    it('reads a body without sync_info as page 1 of 1 of a task named by its sha-256', () => {
      const body = JSON.stringify(sync({ sync_info: undefined, add: [{ id: 'a' }] }));
      const sha = createHash('sha256').update(body).digest('hex');
      expect(parse(body)).toMatchObject({
        ok: true,
        delivery: { syncInfo: { pageNumber: 1, totalPages: 1, syncTaskId: `body-sha256:${sha}` } },
      });
      // Another body (even the same content spelled differently) is another task.
      const other = parse(body.replace('"a"', '"b"'));
      expect(
        other.ok && other.delivery.kind === 'sync' && other.delivery.syncInfo.syncTaskId,
      ).not.toBe(`body-sha256:${sha}`);
    });

    it('reads action for a missing action_type, and refuses the two when they differ', () => {
      const { action_type: action, ...rest } = sync({});
      expect(parse({ action, ...rest })).toMatchObject({
        ok: true,
        delivery: { kind: 'sync', actionType: 'segment.users.sync' },
      });
      expect(parse({ action, action_type: action, ...rest }).ok).toBe(true);
      expect(parse({ action: 'segment.users.drain', ...sync({}) })).toEqual({
        ok: false,
        error: 'invalid_payload',
        message: '$.action: must equal $.action_type when both are sent',
      });
      // An error about the alias names the field as it was sent.
      expect(parse({ action: 5, data: {} })).toEqual({
        ok: false,
        error: 'invalid_payload',
        message: '$.action: must be string',
      });
      expect(parse({ data: {} })).toEqual({
        ok: false,
        error: 'invalid_payload',
        message: '$.action_type: is required',
      });
      expect(
        parse({ action: 'segment.users.drain', data: { segment: { id: '9' } } }),
      ).toMatchObject({
        ok: true,
        delivery: { kind: 'drain', segment: { id: 9 } },
      });
    });

    it('reads partner_config for a missing customer_config, and refuses the two when they differ', () => {
      const config = { fields: [{ field_id: 'w', value: { id: 'w1' } }] };
      expect(parse({ ...sync({}), partner_config: config })).toMatchObject({
        ok: true,
        delivery: { customerConfig: config },
      });
      expect(parse({ ...sync({}), partner_config: config, customer_config: config }).ok).toBe(true);
      expect(parse({ ...sync({}), partner_config: config, customer_config: {} })).toEqual({
        ok: false,
        error: 'invalid_payload',
        message: '$.partner_config: must equal $.customer_config when both are sent',
      });
      expect(parse({ ...sync({}), partner_config: 'x' })).toEqual({
        ok: false,
        error: 'invalid_payload',
        message: '$.partner_config: must be object,null',
      });
    });

    it('reads a decimal-string segment id as that integer, for every action', () => {
      for (const id of ['777', 777]) {
        expect(parse(sync({ segment: { id } }))).toMatchObject({
          delivery: { segment: { id: 777 } },
        });
        expect(parse({ action_type: 'x.y', data: { segment: { id } } })).toMatchObject({
          delivery: { kind: 'unknown', segmentId: 777 },
        });
      }
      expect(parse(sync({ segment: { id: '0' } }))).toMatchObject({
        delivery: { segment: { id: 0 } },
      });
      expect(parse(sync({ segment: { id: '9007199254740991' } }))).toMatchObject({
        delivery: { segment: { id: 2 ** 53 - 1 } },
      });
      // An unknown action is not refused for an odd segment id; it just has none.
      expect(parse({ action_type: 'x.y', data: { segment: { id: 'abc' } } })).toMatchObject({
        delivery: { kind: 'unknown', segmentId: null },
      });
    });

    it('reads a null or absent segment name as no name', () => {
      expect(parse(sync({ segment: { id: 7, name: null } }))).toMatchObject({
        delivery: { segment: { id: 7, name: undefined } },
      });
      expect(parse(sync({ segment: { id: 7 } }))).toMatchObject({
        delivery: { segment: { id: 7, name: undefined } },
      });
    });

    it('stores an integer user id as its decimal string', () => {
      expect(
        parse(sync({ add: [{ id: 12345 }, { id: -3 }, { id: 0 }], remove: [{ id: 2 ** 53 - 1 }] })),
      ).toMatchObject({
        delivery: { add: ['12345', '-3', '0'], remove: ['9007199254740991'] },
      });
      // The value counts, not its spelling: 1.0 and 1e3 are the integers 1 and 1000.
      expect(
        parse(
          '{"action_type":"segment.users.sync","data":{"segment":{"id":1},"add":[{"id":1.0},{"id":1e3}]}}',
        ),
      ).toMatchObject({
        delivery: { add: ['1', '1000'] },
      });
    });

    it('accepts every published variant body', () => {
      for (const variant of PUBLISHED_VARIANTS) {
        const result = parse(JSON.stringify(variant.body));
        expect({ name: variant.name, ok: result.ok }).toEqual({ name: variant.name, ok: true });
        expect(result.ok && result.delivery).toMatchObject({
          kind: 'sync',
          segment: { id: variant.effect.segmentId },
          idToken: variant.effect.tenant === '' ? undefined : variant.effect.tenant,
        });
      }
    });
  });
});
