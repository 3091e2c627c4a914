// Payload variants Heap (and an integration framework) published, as the checker sends them; to be replaced by src/webhook/variants.ts once the receiver side lands.

export type PublishedVariant = {
  name: string;
  description: string;
  /** The payload; its segment id and id_token are replaced per run (keeping their JSON types). */
  body: Record<string, unknown>;
  why: string;
};

const SEGMENT = { id: 2604511, name: 'Trial users' };

export const PUBLISHED_VARIANTS: PublishedVariant[] = [
  {
    name: 'heap-2021-sample',
    description: "Heap's first sample: `action`, `partner_config`, no `sync_info`, no `remove`",
    body: {
      id_token: 'ExampleCustomerToken',
      action: 'segment.users.sync',
      partner_config: { fields: [] },
      data: { segment: SEGMENT, add: [{ id: 'ada.lovelace@example.org' }] },
    },
    why: "Heap's earliest published payload; senders built from it still exist.",
  },
  {
    name: 'no-sync-info',
    description: 'a sync without `sync_info` (a one-page delivery)',
    body: {
      id_token: 'ExampleCustomerToken',
      action_type: 'segment.users.sync',
      data: { segment: SEGMENT, add: [{ id: 'grace.hopper@example.org' }] },
    },
    why: 'Published samples omit sync_info; it can only mean one page.',
  },
  {
    name: 'action-alias',
    description: '`action` instead of `action_type`, with `sync_info`',
    body: {
      id_token: 'ExampleCustomerToken',
      action: 'segment.users.sync',
      data: {
        segment: SEGMENT,
        sync_info: { page_number: 1, total_pages: 1, sync_task_id: 'ActionAliasSync' },
        add: [{ id: 'katherine.johnson@example.org' }],
      },
    },
    why: "Heap's first sample named the field `action`.",
  },
  {
    name: 'string-segment-id',
    description: 'a segment id that is a string, no `sync_info` (integration-framework shape)',
    body: {
      id_token: 'ExampleCustomerToken',
      action_type: 'segment.users.sync',
      data: {
        segment: { id: '2604511', name: 'Trial users' },
        add: [{ id: 'alan.turing@example.org' }],
      },
    },
    why: 'An integration framework documents Heap-shaped payloads with a string segment id.',
  },
  {
    name: 'null-segment-name',
    description: 'a segment `name` that is null',
    body: {
      id_token: 'ExampleCustomerToken',
      action_type: 'segment.users.sync',
      data: {
        segment: { id: 2604511, name: null },
        sync_info: { page_number: 1, total_pages: 1, sync_task_id: 'NullNameSync' },
        add: [{ id: 'marie.curie@example.org' }],
      },
    },
    why: 'The name is display-only; nothing requires it.',
  },
  {
    name: 'absent-segment-name',
    description: 'a segment without `name`',
    body: {
      id_token: 'ExampleCustomerToken',
      action_type: 'segment.users.sync',
      data: {
        segment: { id: 2604511 },
        sync_info: { page_number: 1, total_pages: 1, sync_task_id: 'NoNameSync' },
        add: [{ id: 'edsger.dijkstra@example.org' }],
      },
    },
    why: 'The name is display-only; nothing requires it.',
  },
  {
    name: 'numeric-user-id',
    description: 'a user `id` that is a number',
    body: {
      id_token: 'ExampleCustomerToken',
      action_type: 'segment.users.sync',
      data: {
        segment: SEGMENT,
        sync_info: { page_number: 1, total_pages: 1, sync_task_id: 'NumericUserSync' },
        add: [{ id: 12345 }],
      },
    },
    why: 'A customer may match users on a numeric property.',
  },
  {
    name: 'no-id-token',
    description: 'no `id_token` (the partner’s own Heap environment)',
    body: {
      action_type: 'segment.users.sync',
      data: {
        segment: SEGMENT,
        sync_info: { page_number: 1, total_pages: 1, sync_task_id: 'OwnEnvironmentSync' },
        add: [{ id: 'barbara.liskov@example.org' }],
      },
    },
    why: "Heap's types make id_token optional: the partner's own environment sends none.",
  },
  {
    name: 'partner-config',
    description: "Heap's older `partner_config` instead of `customer_config`",
    body: {
      id_token: 'ExampleCustomerToken',
      action_type: 'segment.users.sync',
      partner_config: { fields: [] },
      data: {
        segment: SEGMENT,
        sync_info: { page_number: 1, total_pages: 1, sync_task_id: 'PartnerConfigSync' },
        add: [{ id: 'donald.knuth@example.org' }],
      },
    },
    why: "Heap's first sample carried partner_config.",
  },
  {
    name: 'no-config',
    description: 'neither `customer_config` nor `partner_config`',
    body: {
      id_token: 'ExampleCustomerToken',
      action_type: 'segment.users.sync',
      data: {
        segment: SEGMENT,
        sync_info: { page_number: 1, total_pages: 1, sync_task_id: 'NoConfigSync' },
        add: [{ id: 'john.backus@example.org' }],
      },
    },
    why: 'An app without configuration fields gets none.',
  },
];
