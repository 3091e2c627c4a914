// The published variants of Heap's webhook our receiver accepts: one canonical body per variant, shared by the tests and the conformance checker.
import { signHeapHash, type HeapHashFormat } from './signature';

/**
 * What applying a variant to an empty segment must leave behind: the tenant (its id_token, ''
 * for the partner's own environment), the segment (as the integer it is stored under) and its
 * members afterwards, in user-id order.
 */
export type VariantEffect = { tenant: string; segmentId: number; members: string[] };

export type PublishedVariant = {
  /** Short kebab-case name (a check name in the checker, a test name here). */
  name: string;
  /** What is different about this body or its signature, compared with Heap's current spec. */
  description: string;
  /** A sync page, to be sent as JSON.stringify(body). */
  body: object;
  /** Where the variant was published, so accepting it is not guesswork. */
  why: string;
  /** How the Heap-Hash header is encoded for it (default base64 HMAC, ts in milliseconds). */
  signing?: HeapHashFormat;
  /** The membership effect on a fresh store. */
  effect: VariantEffect;
};

const SEED_CUSTOMER_CONFIG = {
  fields: [
    {
      field_id: 'workspace',
      field_display_name: 'Workspace',
      value: { id: 'workspace_1', display_name: 'Workspace 1' },
    },
  ],
};

/** A current-spec sync page of one segment (the base the variants change one thing of). */
function currentPage(segmentId: number, add: string[]): Record<string, unknown> {
  return {
    action_type: 'segment.users.sync',
    data: {
      segment: { id: segmentId, name: 'Variant segment' },
      sync_info: { page_number: 1, total_pages: 1, sync_task_id: `variant-${segmentId}` },
      add: add.map((id) => ({ id })),
      remove: [],
    },
  };
}

const own = (segmentId: number, members: string[]): VariantEffect => ({
  tenant: '',
  segmentId,
  members: [...members].sort(),
});

/**
 * Every variant, each on its own segment id (4200501…) with its own users, so they can all be
 * sent to one receiver and their effects checked independently. Segment ids and user ids are
 * plain ASCII so a membership lookup needs no escaping.
 */
export const PUBLISHED_VARIANTS: PublishedVariant[] = [
  {
    name: 'no-sync-info',
    description: 'A sync without `sync_info`: one page on its own.',
    body: {
      action_type: 'segment.users.sync',
      data: {
        segment: { id: 4200501, name: 'Variant segment' },
        add: [{ id: 'nosync-a@example.com' }, { id: 'nosync-b@example.com' }],
        remove: [],
      },
    },
    why: "Heap's first published sample (2021) and an integration framework's Heap-shaped payloads have no sync_info.",
    effect: own(4200501, ['nosync-a@example.com', 'nosync-b@example.com']),
  },
  {
    name: 'action-alias',
    description: '`action` instead of `action_type`.',
    body: (() => {
      const { action_type: action, ...rest } = currentPage(4200502, ['action-a@example.com']);
      return { action, ...rest };
    })(),
    why: 'Heap\'s first published sample (2021) used "action": "segment.users.sync".',
    effect: own(4200502, ['action-a@example.com']),
  },
  {
    name: 'heap-first-sample',
    description:
      "Heap's first sample as a whole: `action`, `partner_config`, no `sync_info`, no `remove`.",
    body: {
      action: 'segment.users.sync',
      partner_config: SEED_CUSTOMER_CONFIG,
      data: {
        segment: { id: 4200503, name: 'Free Customers' },
        add: [{ id: 'first-a@example.com' }, { id: 'first-b@example.com' }],
      },
    },
    why: "The earliest sample in Heap's public reference app; a sender built from it must work.",
    effect: own(4200503, ['first-a@example.com', 'first-b@example.com']),
  },
  {
    name: 'string-segment-id',
    description: 'The segment id as a decimal string ("4200504"): the same segment as 4200504.',
    body: (() => {
      const page = currentPage(4200504, ['strseg-a@example.com']);
      (page.data as { segment: { id: unknown } }).segment.id = '4200504';
      return page;
    })(),
    why: 'An integration framework documents Heap-shaped synced-segment payloads with a string segment id.',
    effect: own(4200504, ['strseg-a@example.com']),
  },
  {
    name: 'framework-string-id-no-sync-info',
    description: 'A string segment id and no `sync_info` together.',
    body: {
      action_type: 'segment.users.sync',
      data: {
        segment: { id: '4200505', name: 'Variant segment' },
        add: [{ id: 'framework-a@example.com' }],
        remove: [],
      },
    },
    why: "The integration framework's documented payload shape combines both.",
    effect: own(4200505, ['framework-a@example.com']),
  },
  {
    name: 'segment-name-null',
    description: 'The segment `name` is null.',
    body: (() => {
      const page = currentPage(4200506, ['namenull-a@example.com']);
      (page.data as { segment: { name: unknown } }).segment.name = null;
      return page;
    })(),
    why: "Heap's spec does not mark `name` required; senders serialising an unset name write null.",
    effect: own(4200506, ['namenull-a@example.com']),
  },
  {
    name: 'segment-name-absent',
    description: 'The segment has no `name`.',
    body: (() => {
      const page = currentPage(4200507, ['nameabsent-a@example.com']);
      delete (page.data as { segment: { name?: unknown } }).segment.name;
      return page;
    })(),
    why: "Heap's spec does not mark `name` required.",
    effect: own(4200507, ['nameabsent-a@example.com']),
  },
  {
    name: 'numeric-user-id',
    description:
      'User ids that are JSON integers (12345), stored as their decimal string ("12345").',
    body: (() => {
      const page = currentPage(4200508, []);
      const data = page.data as { add: unknown[] };
      data.add = [{ id: 12345 }, { id: 67890 }, { id: 'mixed@example.com' }];
      return page;
    })(),
    why: 'User ids are the values of the identity property the customer mapped; a numeric property (a customer number) arrives as a number.',
    effect: own(4200508, ['12345', '67890', 'mixed@example.com']),
  },
  {
    name: 'no-id-token',
    description: "No `id_token`: the partner's own Heap environment.",
    body: currentPage(4200509, ['noidtoken-a@example.com']),
    why: "Heap's reference types declare id_token optional; a private integration has no OAuth connection.",
    effect: own(4200509, ['noidtoken-a@example.com']),
  },
  {
    name: 'id-token-any-string',
    description: 'An `id_token` that is any non-empty string, not a UUID ("CustomerIdToken").',
    body: { id_token: 'CustomerIdToken', ...currentPage(4200510, ['idtoken-a@example.com']) },
    why: 'Heap\'s own sample_sync.json uses id_token "CustomerIdToken".',
    effect: {
      tenant: 'CustomerIdToken',
      segmentId: 4200510,
      members: ['idtoken-a@example.com'],
    },
  },
  {
    name: 'hex-hmac',
    description: '`Heap-Hash` with the HMAC hex-encoded (64 hex digits) instead of base64.',
    body: currentPage(4200511, ['hex-a@example.com']),
    why: "A hex-encoded HMAC was proposed in Heap's reference; a sender built from that branch signs in hex.",
    signing: { hmac: 'hex', ts: 'ms' },
    effect: own(4200511, ['hex-a@example.com']),
  },
  {
    name: 'seconds-timestamp',
    description: '`Heap-Hash` with `ts` in unix seconds instead of milliseconds.',
    body: currentPage(4200512, ['seconds-a@example.com']),
    why: "Heap's reference briefly switched ts to epoch seconds, and its spec's header example (ts:150000000) still looks like seconds.",
    signing: { hmac: 'base64', ts: 's' },
    effect: own(4200512, ['seconds-a@example.com']),
  },
  {
    name: 'seed-customer-config',
    description: "The seed's `customer_config` (fields with {id, display_name} values).",
    body: { customer_config: SEED_CUSTOMER_CONFIG, ...currentPage(4200513, ['cc-a@example.com']) },
    why: "Heap's current sample_sync.json sends it.",
    effect: own(4200513, ['cc-a@example.com']),
  },
  {
    name: 'partner-config',
    description: "Heap's older name `partner_config` instead of `customer_config`.",
    body: { partner_config: SEED_CUSTOMER_CONFIG, ...currentPage(4200514, ['pc-a@example.com']) },
    why: "Heap's first published sample (2021) called it partner_config.",
    effect: own(4200514, ['pc-a@example.com']),
  },
  {
    name: 'no-config',
    description: 'Neither `customer_config` nor `partner_config`.',
    body: currentPage(4200515, ['noconfig-a@example.com']),
    why: "Heap's spec does not mark customer_config required; a private integration has no settings.",
    effect: own(4200515, ['noconfig-a@example.com']),
  },
];

/** The `Heap-Hash` header for a variant, signed as that variant is (`nowMs` defaults to now). */
export function signVariant(
  variant: PublishedVariant,
  secret: string,
  body: string = JSON.stringify(variant.body),
  nowMs: number = Date.now(),
): string {
  return signHeapHash(secret, body, nowMs, variant.signing);
}
