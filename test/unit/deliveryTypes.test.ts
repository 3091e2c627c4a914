// Checks the delivery types handlers get (SyncDelivery, DrainDelivery, UnknownDelivery) against webhook_spec.yaml.
import { FIELD_ALIASES, parseWebhookBody, validateWebhookRequest } from '../../src/webhook/payload';
import { loadWebhookSpec } from '../../src/webhook/specSchema';
import type { DrainDelivery, SyncDelivery, UnknownDelivery } from '../../src/webhook/receive';

type Schema = {
  $ref?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
};

const schemas = loadWebhookSpec().components.schemas as Record<string, Schema>;

function resolve(schema: Schema): Schema {
  return schema.$ref ? resolve(schemas[schema.$ref.replace('#/components/schemas/', '')]) : schema;
}

/** Every property path a schema names, down to its leaves: `data.sync_info.page_number`, `data.add[].id`. */
function specPaths(schema: Schema, prefix = ''): string[] {
  const resolved = resolve(schema);
  if (resolved.items) return specPaths(resolved.items, `${prefix}[]`);
  if (!resolved.properties) return [prefix];
  return Object.entries(resolved.properties).flatMap(([key, child]) =>
    specPaths(child, prefix ? `${prefix}.${key}` : key),
  );
}

/**
 * Where each field of a type sits on the wire. `satisfies Record<…>` makes the compiler (npm run
 * typecheck) refuse a map that misses a field of the type or names one it does not have.
 */
const SEGMENT = { id: 'data.segment.id', name: 'data.segment.name' };
const SYNC_FIELDS = {
  kind: null,
  actionType: 'action_type',
  idToken: 'id_token',
  customerConfig: 'customer_config',
  segment: SEGMENT satisfies Record<keyof SyncDelivery['segment'], string>,
  syncInfo: {
    pageNumber: 'data.sync_info.page_number',
    totalPages: 'data.sync_info.total_pages',
    syncTaskId: 'data.sync_info.sync_task_id',
  } satisfies Record<keyof SyncDelivery['syncInfo'], string>,
  add: 'data.add[].id',
  remove: 'data.remove[].id',
} satisfies Record<keyof SyncDelivery, unknown>;
const DRAIN_FIELDS = {
  kind: null,
  actionType: 'action_type',
  idToken: 'id_token',
  customerConfig: 'customer_config',
  segment: SEGMENT satisfies Record<keyof DrainDelivery['segment'], string>,
} satisfies Record<keyof DrainDelivery, unknown>;
const UNKNOWN_FIELDS = {
  kind: null,
  actionType: 'action_type',
  idToken: 'id_token',
  segmentId: 'data.segment.id',
} satisfies Record<keyof UnknownDelivery, unknown>;

function mappedPaths(fields: object): string[] {
  return Object.values(fields).flatMap((value) =>
    value === null ? [] : typeof value === 'string' ? [value] : mappedPaths(value as object),
  );
}

// Objects built to satisfy the types, every field filled.
const sync: SyncDelivery = {
  kind: 'sync',
  actionType: 'segment.users.sync',
  idToken: 'env-1',
  customerConfig: { fields: [] },
  segment: { id: 42, name: 'Trial accounts' },
  syncInfo: { pageNumber: 2, totalPages: 3, syncTaskId: 'task-1' },
  add: ['ada@example.com'],
  remove: ['linus@example.com'],
};
const drain: DrainDelivery = {
  kind: 'drain',
  actionType: 'segment.users.drain',
  idToken: 'env-1',
  customerConfig: null,
  segment: { id: 42, name: 'Trial accounts' },
};
const unknown: UnknownDelivery = {
  kind: 'unknown',
  actionType: 'segment.renamed',
  idToken: 'env-1',
  segmentId: 42,
};

/** The wire body a typed delivery stands for, built through the field maps above. */
function toWire(delivery: object, fields: object): Record<string, unknown> {
  const wire: Record<string, unknown> = {};
  const put = (path: string, value: unknown) => {
    const keys = path.replace('[].id', '').split('.');
    let node = wire;
    for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[keys[keys.length - 1]] = path.endsWith('[].id')
      ? (value as string[]).map((id) => ({ id }))
      : value;
  };
  const walk = (value: unknown, map: unknown) => {
    if (map === null) return;
    if (typeof map === 'string') put(map, value);
    else
      for (const [key, sub] of Object.entries(map as object)) {
        walk((value as Record<string, unknown>)[key], sub);
      }
  };
  walk(delivery, fields);
  return wire;
}

describe('delivery types against webhook_spec.yaml', () => {
  it.each([
    ['SyncDelivery', 'SegmentSyncRequest', SYNC_FIELDS],
    ['DrainDelivery', 'SegmentDrainRequest', DRAIN_FIELDS],
  ])('%s names exactly the properties of %s', (_type, schema, fields) => {
    expect(mappedPaths(fields).sort()).toEqual(specPaths(schemas[schema]).sort());
  });

  it('UnknownDelivery names the properties every request has, and the segment id', () => {
    // The older names Heap published (action, partner_config) are read as the current ones.
    const aliases = new Set<string>(FIELD_ALIASES.map((alias) => alias.old));
    const requestPaths = specPaths(schemas.WebhookRequest);
    expect(requestPaths).toEqual(expect.arrayContaining([...aliases]));
    expect(mappedPaths(UNKNOWN_FIELDS).sort()).toEqual(
      [...requestPaths.filter((path) => !aliases.has(path)), 'data.segment.id'].sort(),
    );
  });

  it.each([
    ['sync', sync, SYNC_FIELDS],
    ['drain', drain, DRAIN_FIELDS],
    ['unknown', unknown, UNKNOWN_FIELDS],
  ])(
    'a %s built to satisfy its type is a valid request, and parses back to the same object',
    (_kind, delivery, fields) => {
      const wire = toWire(delivery, fields);
      const validate = validateWebhookRequest;
      expect(validate(wire)).toBe(true);
      expect(parseWebhookBody(Buffer.from(JSON.stringify(wire)))).toEqual({ ok: true, delivery });
    },
  );
});
