// The conformance checks: what each sends to a receiver, what it expects back, why it matters and how to fix it.
import { randomUUID } from 'node:crypto';
import { computeHeapHmac } from '../webhook/signature';
import { dummyUsers } from '../webhook/outgoing';
import type { SendResult } from '../webhook/send';
import { PUBLISHED_VARIANTS, signVariant, type PublishedVariant } from '../webhook/variants';
import { is2xx, is5xx, type CheckContext } from './context';
import type { CheckGroup, CheckStatus } from './types';

export type CheckOutcome = {
  status: CheckStatus;
  sent: string;
  received: string;
  detail?: string;
};

export type CheckDefinition = {
  id: string;
  group: CheckGroup;
  title: string;
  why: string;
  fix: string;
  /** Only with an admin API to read the stored state from. */
  needsAdmin?: boolean;
  run(ctx: CheckContext): Promise<CheckOutcome>;
};

/** How far stale/future signatures are moved: beyond any sensible tolerance (Heap's reference: 60 s old, 1 s ahead). */
export const SHIFT_MS = 10 * 60_000;
/** Users in the big page: the size the issue asks receivers to take within Heap's timeout. */
export const BIG_PAGE_USERS = 100_000;
export const CONCURRENT_PAGES = 10;

const FIX_VERIFY =
  'Verify Heap-Hash before anything else: parse exactly ts:<ms>,hmac:<base64>, recompute ' +
  'HMAC-SHA256(secret, ts + raw body bytes), compare in constant time, and answer 401/403 on any mismatch.';

// ---------------------------------------------------------------- shared shapes of checks

/** A request that must be refused (any non-2xx answer); a 2xx means a forgery would be applied. */
function mustRefuse(spec: {
  id: string;
  title: string;
  why: string;
  fix?: string;
  build: (ctx: CheckContext) => { body: string; heapHash: string | null; sent: string };
}): CheckDefinition {
  return {
    id: spec.id,
    group: 'signing',
    title: spec.title,
    why: spec.why,
    fix: spec.fix ?? FIX_VERIFY,
    async run(ctx) {
      const request = spec.build(ctx);
      const result = await ctx.post(request.body, request.heapHash);
      const received = ctx.describe(result);
      if (!result.ok) {
        return {
          status: 'fail',
          sent: request.sent,
          received,
          detail: 'no answer: refuse it quickly instead',
        };
      }
      return is2xx(result)
        ? {
            status: 'fail',
            sent: request.sent,
            received,
            detail: 'accepted (2xx): the request should have been refused',
          }
        : { status: 'pass', sent: request.sent, received };
    },
  };
}

/** A correctly signed body that must be accepted (2xx within the timeout). */
function mustAccept(
  ctx: CheckContext,
  body: string,
  sent: string,
  heapHash?: string,
): Promise<CheckOutcome> {
  return ctx.post(body, heapHash).then((result) => {
    const received = ctx.describe(result);
    if (is2xx(result)) return { status: 'pass', sent, received };
    return {
      status: 'fail',
      sent,
      received,
      detail: result.ok
        ? 'a correctly signed delivery was not accepted (Heap retries it)'
        : undefined,
    };
  });
}

/** Sends every body (in the given order, or at once) and passes when each was answered 2xx. */
async function allAccepted(
  ctx: CheckContext,
  bodies: string[],
  sent: string,
  concurrently = false,
): Promise<CheckOutcome & { results: SendResult[] }> {
  const results: SendResult[] = [];
  if (concurrently) results.push(...(await Promise.all(bodies.map((body) => ctx.post(body)))));
  else for (const body of bodies) results.push(await ctx.post(body));
  const refused = results
    .map((result, index) => ({ result, index }))
    .filter(({ result }) => !is2xx(result));
  const first = refused[0];
  return {
    status: first ? 'fail' : 'pass',
    sent,
    received: first
      ? `request ${first.index + 1}: ${ctx.describe(first.result)}`
      : `${results.length} × ${results
          .map((r) => (r.ok ? r.status : 'none'))
          .filter(unique)
          .join('/')}`,
    detail: first ? `${refused.length} of ${results.length} not accepted` : undefined,
    results,
  };
}

function unique<T>(value: T, index: number, all: T[]): boolean {
  return all.indexOf(value) === index;
}

/** Compares the members stored with the expected ones; the outcome of a state check. */
async function expectMembers(
  ctx: CheckContext,
  segmentId: number | string,
  expected: string[],
  sent: string,
  // Explicit, never defaulted: undefined means the partner's own environment.
  idToken: string | undefined,
): Promise<CheckOutcome> {
  const read = await ctx.admin!.members(idToken, segmentId);
  if (!read.ok) return { status: 'fail', sent, received: read.error };
  const want = [...expected].sort();
  const missing = want.filter((id) => !read.members.includes(id));
  const extra = read.members.filter((id) => !want.includes(id));
  const received = `${read.members.length} members stored`;
  if (missing.length === 0 && extra.length === 0) return { status: 'pass', sent, received };
  const list = (ids: string[]) => ids.slice(0, 5).join(', ') + (ids.length > 5 ? ', …' : '');
  return {
    status: 'fail',
    sent,
    received,
    detail:
      `expected ${want.length} members` +
      (missing.length ? `; missing ${missing.length} (${list(missing)})` : '') +
      (extra.length ? `; unexpected ${extra.length} (${list(extra)})` : ''),
  };
}

function users(prefix: string, count: number): string[] {
  return dummyUsers(count, `${prefix}-${randomUUID().slice(0, 8)}`);
}

// ---------------------------------------------------------------- signing

const signing: CheckDefinition[] = [
  {
    id: 'signing.valid',
    group: 'signing',
    title: 'A correctly signed sync is accepted',
    why: 'Everything else depends on it: Heap retries any non-2xx answer until it gives up.',
    fix:
      'Check the secret (the webhook secret from the Developers Hub, not the OAuth client secret), ' +
      'and that the HMAC covers the timestamp followed by the raw body bytes.',
    async run(ctx) {
      const body = ctx.syncBody({ segmentId: ctx.segmentId(), add: users('valid', 3) });
      const outcome = await mustAccept(ctx, body, 'a 3-user sync page, signed now');
      // A receiver that only takes connected customers refuses the checker's own id_token.
      if (outcome.status === 'fail' && /id_token/i.test(outcome.received)) {
        outcome.detail =
          "the receiver refused the id_token: check with -i <a connected customer's id_token>, or -i '' for the own environment";
      }
      return outcome;
    },
  },
  mustRefuse({
    id: 'signing.missing',
    title: 'A request without Heap-Hash is refused',
    why: 'Without the header anyone who knows the URL could change segment membership.',
    build: (ctx) => ({
      body: ctx.syncBody({ segmentId: ctx.segmentId(), add: users('forged', 1) }),
      heapHash: null,
      sent: 'a sync page with no Heap-Hash header',
    }),
  }),
  ...malformed(),
  mustRefuse({
    id: 'signing.wrong-hmac',
    title: 'A wrong HMAC is refused',
    why: 'A receiver that only checks the header is present accepts anything.',
    build: (ctx) => {
      const body = ctx.syncBody({ segmentId: ctx.segmentId(), add: users('forged', 1) });
      const ts = String(Date.now());
      return {
        body,
        heapHash: `ts:${ts},hmac:${computeHeapHmac('not-the-secret', ts, 'something else')}`,
        sent: 'a sync page with a well-formed HMAC of other bytes',
      };
    },
  }),
  mustRefuse({
    id: 'signing.wrong-secret',
    title: 'A signature made with another secret is refused',
    why: 'Only Heap knows the secret; a signature anyone else can make proves nothing.',
    build: (ctx) => {
      const body = ctx.syncBody({ segmentId: ctx.segmentId(), add: users('forged', 1) });
      return {
        body,
        heapHash: ctx.sign(body, Date.now(), `${ctx.secret}-wrong`),
        sent: 'a sync page signed with a different secret',
      };
    },
  }),
  mustRefuse({
    id: 'signing.tampered-body',
    title: 'A body changed after signing is refused',
    why: 'The signature must cover every byte, or an attacker can replay a captured header with their own users.',
    build: (ctx) => {
      const segmentId = ctx.segmentId();
      const signed = ctx.syncBody({ segmentId, syncTaskId: 'tamper', add: ['alice@example.com'] });
      const body = signed.replace('alice@example.com', 'mallory@example.com');
      return {
        body,
        heapHash: ctx.sign(signed),
        sent: 'a signed sync page with one user id replaced afterwards',
      };
    },
  }),
  mustRefuse({
    id: 'signing.stale',
    title: 'A signature older than the tolerance is refused',
    why: 'Without a timestamp check a captured request can be replayed forever.',
    fix: 'Refuse a Heap-Hash ts more than a few minutes old (our server: 300 s), after verifying the HMAC over that ts.',
    build: (ctx) => {
      const body = ctx.syncBody({ segmentId: ctx.segmentId(), add: users('stale', 1) });
      return {
        body,
        heapHash: ctx.sign(body, Date.now() - SHIFT_MS),
        sent: 'a sync page correctly signed 10 minutes ago',
      };
    },
  }),
  mustRefuse({
    id: 'signing.future',
    title: 'A signature from the future is refused',
    why: 'A request signed ahead of time stays "fresh" for as long as its timestamp says.',
    fix: 'Refuse a Heap-Hash ts more than a little clock skew ahead (our server: 60 s).',
    build: (ctx) => {
      const body = ctx.syncBody({ segmentId: ctx.segmentId(), add: users('future', 1) });
      return {
        body,
        heapHash: ctx.sign(body, Date.now() + SHIFT_MS),
        sent: 'a sync page correctly signed 10 minutes ahead',
      };
    },
  }),
  {
    id: 'signing.oracle',
    group: 'signing',
    title: 'Refusals never reveal the expected HMAC or the secret',
    why:
      'A receiver that answers a forgery with the HMAC it expected signs any body for the attacker ' +
      "(Heap's own reference app did): one request to learn it, a second to have it accepted.",
    fix: 'Answer refusals with a fixed message (e.g. 403 {"error":"invalid_signature"}); never log or return computed HMACs or the secret.',
    async run(ctx) {
      const probes: { label: string; body: string; ts: string; heapHash: string }[] = [];
      const forged = ctx.syncBody({ segmentId: ctx.segmentId(), add: users('oracle', 1) });
      const now = String(Date.now());
      probes.push({
        label: 'wrong HMAC',
        body: forged,
        ts: now,
        heapHash: `ts:${now},hmac:${computeHeapHmac('x', now, 'y')}`,
      });
      const tampered = `${forged.slice(0, -1)},"x":1}`;
      probes.push({
        label: 'tampered body',
        body: tampered,
        ts: now,
        heapHash: ctx.sign(forged, Number(now)),
      });
      const hex = `ts:${now},hmac:${'0'.repeat(64)}`;
      probes.push({ label: 'hex-shaped HMAC', body: forged, ts: now, heapHash: hex });
      const received: string[] = [];
      for (const probe of probes) {
        const hidden = ctx.secretsFor(probe.body, probe.ts);
        const result = await ctx.post(probe.body, probe.heapHash);
        received.push(`${probe.label}: ${ctx.describe(result, hidden)}`);
        if (!result.ok) continue;
        const haystack = `${result.body}\n${Object.values(result.headers ?? {}).join('\n')}`;
        const leaks = [
          [hidden[0], 'the expected HMAC (base64)'],
          [hidden[1], 'the expected HMAC (hex)'],
          [hidden[2], 'the expected HMAC (base64url)'],
          [hidden[3], 'the webhook secret'],
        ].filter(([value]) => haystack.includes(value!));
        if (leaks.length > 0) {
          return {
            status: 'fail',
            sent: `${probes.length} forged sync pages (wrong HMAC, tampered body, hex-shaped HMAC)`,
            received: received.join('; '),
            detail: `the answer to the ${probe.label} request contains ${leaks.map(([, what]) => what).join(' and ')}`,
          };
        }
      }
      return {
        status: 'pass',
        sent: `${probes.length} forged sync pages (wrong HMAC, tampered body, hex-shaped HMAC)`,
        received: received.join('; '),
      };
    },
  },
];

function malformed(): CheckDefinition[] {
  const variants: {
    id: string;
    title: string;
    header: (ts: string, hmac: string) => string;
    sent: string;
  }[] = [
    {
      id: 'no-ts',
      title: 'without ts',
      header: (_ts, hmac) => `hmac:${hmac}`,
      sent: 'Heap-Hash: hmac:<valid>',
    },
    {
      id: 'no-hmac',
      title: 'without hmac',
      header: (ts) => `ts:${ts}`,
      sent: 'Heap-Hash: ts:<now>',
    },
    {
      id: 'swapped',
      title: 'with ts and hmac values swapped',
      header: (ts, hmac) => `ts:${hmac},hmac:${ts}`,
      sent: 'Heap-Hash: ts:<hmac>,hmac:<ts>',
    },
    {
      id: 'extra-key',
      title: 'with an extra key',
      header: (ts, hmac) => `ts:${ts},hmac:${hmac},v:1`,
      sent: 'Heap-Hash: ts:<now>,hmac:<valid>,v:1',
    },
    {
      id: 'duplicate-ts',
      title: 'with a second, fresh ts after a stale signed one',
      // The HMAC is valid for the stale ts: a parser that checks one ts and signs with the other is fooled.
      header: (ts, hmac) => `ts:${ts},hmac:${hmac},ts:${Date.now()}`,
      sent: 'Heap-Hash: ts:<10 min ago>,hmac:<valid for it>,ts:<now>',
    },
    {
      id: 'garbage',
      title: 'that is not key:value pairs',
      header: () => 'not-a-signature',
      sent: 'Heap-Hash: not-a-signature',
    },
  ];
  return variants.map((variant) =>
    mustRefuse({
      id: `signing.malformed.${variant.id}`,
      title: `A Heap-Hash ${variant.title} is refused`,
      why: 'A lenient header parser is how forged or replayed requests slip past the HMAC check.',
      fix: 'Parse Heap-Hash strictly: exactly the keys ts and hmac, once each, ts all digits; refuse anything else with 401/403.',
      build: (ctx) => {
        const body = ctx.syncBody({ segmentId: ctx.segmentId(), add: users('malformed', 1) });
        const ts = String(variant.id === 'duplicate-ts' ? Date.now() - SHIFT_MS : Date.now());
        const hmac = computeHeapHmac(ctx.secret, ts, body);
        return {
          body,
          heapHash: variant.header(ts, hmac),
          sent: `a sync page with ${variant.sent}`,
        };
      },
    }),
  );
}

// ---------------------------------------------------------------- raw bytes

const FIX_RAW =
  'Compute the HMAC over the request body exactly as received (e.g. express.raw(), ' +
  'request.get_data() in Flask, io.ReadAll in Go) and parse the JSON only after verifying.';

function rawBytes(
  id: string,
  title: string,
  sent: string,
  why: string,
  transform: (page: object) => string,
): CheckDefinition {
  return {
    id: `raw-bytes.${id}`,
    group: 'raw-bytes',
    title,
    why,
    fix: FIX_RAW,
    run(ctx) {
      const page = ctx.syncPage({ segmentId: ctx.segmentId(), add: users(id, 2) });
      return mustAccept(ctx, transform(page), sent);
    },
  };
}

/** JSON with every key order reversed: same document, different bytes. */
function reversed(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversed);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .reverse()
        .map(([k, v]) => [k, reversed(v)]),
    );
  }
  return value;
}

const rawBytesChecks: CheckDefinition[] = [
  rawBytes(
    'pretty',
    'Pretty-printed JSON is accepted',
    'a signed sync page indented with 2 spaces',
    'A receiver that re-serialises the parsed JSON before verifying refuses every body not byte-identical to its own output.',
    (page) => JSON.stringify(page, null, 2),
  ),
  rawBytes(
    'reordered',
    'JSON with keys in another order is accepted',
    'a signed, compact sync page with every object’s keys in reverse order',
    'Catches verifiers that re-serialise with sorted keys.',
    (page) => JSON.stringify(reversed(page)),
  ),
  rawBytes(
    'unicode-escapes',
    'JSON with \\u escapes is accepted',
    'a signed sync page whose strings use \\u escapes for plain letters',
    'Escapes are valid JSON; re-serialising turns them into plain characters and the HMAC no longer matches.',
    (page) =>
      JSON.stringify(page).replace(
        /"(segment|Conformance)/g,
        (_m, word: string) => `"\\u00${word.charCodeAt(0).toString(16)}${word.slice(1)}`,
      ),
  ),
  {
    id: 'raw-bytes.emoji',
    group: 'raw-bytes',
    title: 'Emoji and non-ASCII characters are accepted',
    why: 'Catches verifiers that re-serialise with ASCII escapes (Python json.dumps) or decode the body as Latin-1.',
    fix: FIX_RAW,
    run(ctx) {
      const page = ctx.syncPage({
        segmentId: ctx.segmentId(),
        add: ['zoë@example.com', '🦄@example.com', '東京@example.com'],
      });
      page.data.segment.name = 'Café ☕ users 🚀';
      return mustAccept(
        ctx,
        JSON.stringify(page),
        'a signed sync page with emoji and accented user ids, raw UTF-8',
      );
    },
  },
  rawBytes(
    'trailing-whitespace',
    'Trailing whitespace after the JSON is accepted',
    'a signed sync page followed by "\\n  \\n"',
    'Whitespace after the document is valid JSON and part of the signed bytes.',
    (page) => `${JSON.stringify(page)}\n  \n`,
  ),
];

// ---------------------------------------------------------------- protocol

const protocol: CheckDefinition[] = [
  {
    id: 'protocol.unknown-action',
    group: 'protocol',
    title: 'An unknown action_type is not answered 5xx',
    why:
      'Heap says more action types will come. Heap retries every non-2xx answer, so a 5xx (or a 4xx) ' +
      'for a new action means retries until Heap gives up; 2xx "ignored" is what lets it move on.',
    fix: 'Answer 200 for a correctly signed delivery whose action_type you do not handle (log it); never 500.',
    async run(ctx) {
      const page = ctx.syncPage({ segmentId: ctx.segmentId(), add: users('unknown', 1) });
      const body = JSON.stringify({ ...page, action_type: 'segment.users.rename' });
      const sent = 'a signed delivery with action_type "segment.users.rename"';
      const result = await ctx.post(body);
      const received = ctx.describe(result);
      if (!result.ok || is5xx(result)) {
        return {
          status: 'fail',
          sent,
          received,
          detail: 'a 5xx or no answer: Heap retries it until it gives up',
        };
      }
      if (!is2xx(result)) {
        return {
          status: 'warn',
          sent,
          received,
          detail: 'a 4xx: Heap retries it too; 2xx "ignored" is better',
        };
      }
      return { status: 'pass', sent, received };
    },
  },
  {
    id: 'protocol.drain',
    group: 'protocol',
    title: 'A drain is accepted',
    why: 'Heap drains a segment (empties it) when a customer turns the sync off.',
    fix: 'Handle action_type segment.users.drain: remove every member of the segment and answer 2xx.',
    async run(ctx) {
      const segmentId = ctx.segmentId();
      const drain = JSON.stringify({
        ...(ctx.idToken ? { id_token: ctx.idToken } : {}),
        action_type: 'segment.users.drain',
        data: { segment: { id: segmentId, name: 'Conformance check' } },
      });
      return (await allAccepted(
        ctx,
        [ctx.syncBody({ segmentId, add: users('drain', 2) }), drain],
        'a sync page, then a drain of its segment',
      )) as CheckOutcome;
    },
  },
  {
    id: 'protocol.out-of-order',
    group: 'protocol',
    title: 'Pages of one sync task out of order are accepted',
    why: 'Heap documents no order; a receiver waiting for page 1 refuses pages that arrive first.',
    fix: 'Apply each page on its own; record which pages of the task arrived (any order) instead of expecting the next.',
    async run(ctx) {
      const segmentId = ctx.segmentId();
      const task = randomUUID();
      const pages = [3, 1, 2].map((page) =>
        ctx.syncBody({ segmentId, syncTaskId: task, page, total: 3, add: users(`p${page}`, 2) }),
      );
      return stripResults(
        await allAccepted(ctx, pages, 'pages 3, 1, 2 of one 3-page task, in that order'),
      );
    },
  },
  {
    id: 'protocol.concurrent',
    group: 'protocol',
    title: `${CONCURRENT_PAGES} pages of one task at once are accepted`,
    why: 'Heap may deliver pages in parallel; a receiver that locks badly answers some with 5xx or times out.',
    fix: 'Make each page one transaction that tolerates others of the same task and segment at the same time.',
    async run(ctx) {
      const segmentId = ctx.segmentId();
      const task = randomUUID();
      const pages = Array.from({ length: CONCURRENT_PAGES }, (_, i) =>
        ctx.syncBody({
          segmentId,
          syncTaskId: task,
          page: i + 1,
          total: CONCURRENT_PAGES,
          add: users(`c${i + 1}`, 50),
        }),
      );
      return stripResults(
        await allAccepted(
          ctx,
          pages,
          `${CONCURRENT_PAGES} pages of 50 users of one task, all at once`,
          true,
        ),
      );
    },
  },
  {
    id: 'protocol.retry-new-timestamp',
    group: 'protocol',
    title: 'A page retried with a new timestamp is accepted',
    why: 'Heap retries a page it got no 2xx for, signed anew; refusing the retry as a replay makes it retry forever.',
    fix: 'Recognise a retried page by (id_token, segment id, sync_task_id, page_number), answer 2xx and do not apply it again.',
    async run(ctx) {
      const body = ctx.syncBody({ segmentId: ctx.segmentId(), add: users('retry', 2) });
      const first = await ctx.post(body, ctx.sign(body, Date.now() - 2000));
      const second = await ctx.post(body, ctx.sign(body, Date.now()));
      const sent = 'a sync page, then the same bytes signed 2 s later';
      const received = `first: ${ctx.describe(first)}; retry: ${ctx.describe(second)}`;
      return is2xx(first) && is2xx(second)
        ? { status: 'pass', sent, received }
        : {
            status: 'fail',
            sent,
            received,
            detail: is2xx(first)
              ? 'the retry was not accepted'
              : 'the first delivery was not accepted',
          };
    },
  },
  {
    id: 'protocol.big-page',
    group: 'protocol',
    title: `A ${BIG_PAGE_USERS.toLocaleString('en-US')}-user page is accepted within the timeout`,
    why: 'A large segment arrives in large pages; a receiver too slow for them never completes a sync.',
    fix:
      'Accept bodies of several MB (e.g. express.raw({limit: "16mb"})), insert members in batches in one ' +
      'transaction, and answer once committed; queue slower work for after the 2xx.',
    async run(ctx) {
      const body = ctx.syncBody({ segmentId: ctx.segmentId(), add: users('big', BIG_PAGE_USERS) });
      const sent = `one sync page of ${BIG_PAGE_USERS.toLocaleString('en-US')} users (${(Buffer.byteLength(body) / 1e6).toFixed(1)} MB), timeout ${ctx.timeoutMs} ms`;
      const result = await ctx.post(body);
      const received = ctx.describe(result);
      return is2xx(result)
        ? { status: 'pass', sent, received }
        : { status: 'fail', sent, received };
    },
  },
  {
    id: 'protocol.response-time',
    group: 'protocol',
    title: 'A typical page is answered well within the timeout',
    why: 'Heap gives up on a slow answer and retries; a receiver close to the limit fails under load.',
    fix: 'Answer as soon as the page is committed; do slow work (calls to other systems) after the 2xx.',
    async run(ctx) {
      const body = ctx.syncBody({ segmentId: ctx.segmentId(), add: users('timing', 1000) });
      const sent = 'one sync page of 1,000 users';
      const result = await ctx.post(body);
      const received = ctx.describe(result);
      if (!is2xx(result)) return { status: 'fail', sent, received };
      return result.latencyMs > ctx.timeoutMs / 2
        ? {
            status: 'warn',
            sent,
            received,
            detail: `took more than half the ${ctx.timeoutMs} ms timeout`,
          }
        : { status: 'pass', sent, received };
    },
  },
  {
    id: 'protocol.get',
    group: 'protocol',
    title: 'A GET is not answered 5xx',
    why: 'Health checkers, crawlers and people open the URL in a browser; a crash there hints at crashes elsewhere.',
    fix: 'Answer other methods with 405 (or 404), not an exception.',
    async run(ctx) {
      const result = await ctx.get();
      const sent = 'GET on the webhook URL';
      const received = ctx.describe(result);
      return !result.ok || is5xx(result)
        ? { status: 'fail', sent, received }
        : { status: 'pass', sent, received };
    },
  },
];

function stripResults(outcome: CheckOutcome & { results: SendResult[] }): CheckOutcome {
  return {
    status: outcome.status,
    sent: outcome.sent,
    received: outcome.received,
    detail: outcome.detail,
  };
}

// ---------------------------------------------------------------- variants

/** The one variant that is about the id_token being absent: every other one gets the run's. */
const OWN_ENVIRONMENT_VARIANT = 'no-id-token';

/**
 * The variant's body for this run: its own segment id (same JSON type: a string stays a string)
 * and the run's id_token (none for the variant without one), so runs and checks never collide.
 */
export function variantBody(
  variant: PublishedVariant,
  segmentId: number,
  idToken: string | undefined,
): { body: string; idToken: string | undefined } {
  const rest = structuredClone(variant.body) as {
    id_token?: unknown;
    data: { segment: { id: unknown } };
  };
  delete rest.id_token;
  rest.data.segment.id = typeof rest.data.segment.id === 'string' ? String(segmentId) : segmentId;
  const token = variant.name === OWN_ENVIRONMENT_VARIANT ? undefined : idToken;
  return {
    body: JSON.stringify(token === undefined ? rest : { id_token: token, ...rest }),
    idToken: token,
  };
}

function variantFix(variant: PublishedVariant): string {
  if (variant.signing?.hmac === 'hex') {
    return 'Accept hmac as 44-character base64 or 64-character hex (compare the decoded bytes in constant time).';
  }
  if (variant.signing?.ts === 's') {
    return 'Read a ts below 10^11 as unix seconds, above as milliseconds; the HMAC covers the ts text as sent; tolerance still applies.';
  }
  return 'Accept what can be applied unambiguously; see "What we accept beyond Heap\'s current spec" in our README for the rules.';
}

const variants: CheckDefinition[] = PUBLISHED_VARIANTS.map((variant): CheckDefinition => ({
  id: `variants.${variant.name}`,
  group: 'variants',
  title: `Accepted: ${variant.description.replace(/\.$/, '')}`,
  why: `${variant.why} A 4xx makes Heap retry a delivery that can never succeed.`,
  fix: variantFix(variant),
  async run(ctx) {
    const segmentId = ctx.segmentId();
    const { body, idToken } = variantBody(variant, segmentId, ctx.idToken);
    const how = variant.signing
      ? ` (hmac ${variant.signing.hmac}, ts in ${variant.signing.ts})`
      : '';
    const sent = `the published variant "${variant.name}", signed${how}`;
    const accepted = await mustAccept(ctx, body, sent, signVariant(variant, ctx.secret, body));
    // State-aware: the variant must also have its documented effect, not just a 2xx.
    if (accepted.status !== 'pass' || !ctx.admin) return accepted;
    return expectMembers(ctx, segmentId, variant.effect.members, sent, idToken);
  },
}));

// ---------------------------------------------------------------- state-aware

const FIX_IDEMPOTENT =
  'Key sync pages by (id_token, segment id, sync_task_id, page_number) and exact replays by the signature; ' +
  'apply each key once, in the same transaction as its effects.';

const state: CheckDefinition[] = [
  {
    id: 'state.out-of-order',
    group: 'state',
    needsAdmin: true,
    title: 'Pages out of order leave exactly their users',
    why: 'Accepting pages is not enough: each must be applied, whatever the order.',
    fix: 'Apply every page as it comes; do not drop pages that arrive before page 1.',
    async run(ctx) {
      const segmentId = ctx.segmentId();
      const task = randomUUID();
      const adds = [1, 2, 3].map((page) => users(`so${page}`, 3));
      const sent = 'pages 3, 1, 2 of one task (3 users each)';
      const accepted = await allAccepted(
        ctx,
        [3, 1, 2].map((page) =>
          ctx.syncBody({ segmentId, syncTaskId: task, page, total: 3, add: adds[page - 1] }),
        ),
        sent,
      );
      if (accepted.status !== 'pass') return stripResults(accepted);
      return expectMembers(ctx, segmentId, adds.flat(), sent, ctx.idToken);
    },
  },
  {
    id: 'state.concurrent',
    group: 'state',
    needsAdmin: true,
    title: `${CONCURRENT_PAGES} concurrent pages leave exactly their users`,
    why: 'Lost updates under concurrency silently drop users.',
    fix: 'One transaction per page; no read-modify-write of a whole member list.',
    async run(ctx) {
      const segmentId = ctx.segmentId();
      const task = randomUUID();
      const adds = Array.from({ length: CONCURRENT_PAGES }, (_, i) => users(`sc${i}`, 20));
      const sent = `${CONCURRENT_PAGES} pages of 20 users of one task, all at once`;
      const accepted = await allAccepted(
        ctx,
        adds.map((add, i) =>
          ctx.syncBody({ segmentId, syncTaskId: task, page: i + 1, total: CONCURRENT_PAGES, add }),
        ),
        sent,
        true,
      );
      if (accepted.status !== 'pass') return stripResults(accepted);
      return expectMembers(ctx, segmentId, adds.flat(), sent, ctx.idToken);
    },
  },
  {
    id: 'state.retry-once',
    group: 'state',
    needsAdmin: true,
    title: 'A retried page is applied once',
    why: 'A page retried after a later page must not undo it: applying it twice re-adds users who left.',
    fix: FIX_IDEMPOTENT,
    async run(ctx) {
      const segmentId = ctx.segmentId();
      const task = randomUUID();
      const [a, b, c] = users('sr', 3);
      const page1 = ctx.syncBody({ segmentId, syncTaskId: task, page: 1, total: 2, add: [a, b] });
      const page2 = ctx.syncBody({
        segmentId,
        syncTaskId: task,
        page: 2,
        total: 2,
        add: [c],
        remove: [a],
      });
      const sent = 'page 1 (add a, b), page 2 (remove a, add c), then page 1 again signed anew';
      const accepted = await allAccepted(ctx, [page1, page2], sent);
      if (accepted.status !== 'pass') return stripResults(accepted);
      const retry = await ctx.post(page1, ctx.sign(page1, Date.now() + 1));
      if (!is2xx(retry)) return { status: 'fail', sent, received: `retry: ${ctx.describe(retry)}` };
      return expectMembers(ctx, segmentId, [b, c], sent, ctx.idToken);
    },
  },
  {
    id: 'state.drain-replay',
    group: 'state',
    needsAdmin: true,
    title: 'A replayed drain changes nothing',
    why: 'A drain replayed after a new sync would empty a segment that should be full.',
    fix: FIX_IDEMPOTENT,
    async run(ctx) {
      const segmentId = ctx.segmentId();
      const drain = JSON.stringify({
        ...(ctx.idToken ? { id_token: ctx.idToken } : {}),
        action_type: 'segment.users.drain',
        data: { segment: { id: segmentId, name: 'Conformance check' } },
      });
      const drainHash = ctx.sign(drain);
      const later = users('sd-later', 2);
      const sent = 'sync, drain, a new sync, then the very same signed drain again';
      const steps: [string, string | undefined][] = [
        [ctx.syncBody({ segmentId, add: users('sd-first', 2) }), undefined],
        [drain, drainHash],
        [ctx.syncBody({ segmentId, add: later }), undefined],
      ];
      for (const [body, hash] of steps) {
        const result = await ctx.post(body, hash);
        if (!is2xx(result)) return { status: 'fail', sent, received: ctx.describe(result) };
      }
      const replay = await ctx.post(drain, drainHash);
      if (!replay.ok || is5xx(replay))
        return { status: 'fail', sent, received: `replay: ${ctx.describe(replay)}` };
      return expectMembers(ctx, segmentId, later, sent, ctx.idToken);
    },
  },
  {
    id: 'state.forged-nothing',
    group: 'state',
    needsAdmin: true,
    title: 'Refused requests apply nothing',
    why: 'A receiver can answer 403 and still have written the forged users (verify first, then write).',
    fix: 'Verify the signature before parsing or storing anything.',
    async run(ctx) {
      const segmentId = ctx.segmentId();
      const sent = 'a wrong-HMAC, a stale and a tampered sync page for a new segment';
      const body = ctx.syncBody({ segmentId, add: users('sf', 2) });
      const ts = String(Date.now());
      await ctx.post(body, `ts:${ts},hmac:${computeHeapHmac('x', ts, 'y')}`);
      await ctx.post(body, ctx.sign(body, Date.now() - SHIFT_MS));
      await ctx.post(body.replace('sf-', 'sx-'), ctx.sign(body));
      return expectMembers(ctx, segmentId, [], sent, ctx.idToken);
    },
  },
  {
    id: 'state.unicode-ids',
    group: 'state',
    needsAdmin: true,
    title: 'Non-ASCII user ids are stored exactly',
    why: 'User ids match the customer’s identity property (often an email): a mangled id never matches.',
    fix: 'Decode the body as UTF-8 and store ids as sent (escapes decoded).',
    async run(ctx) {
      const segmentId = ctx.segmentId();
      const ids = ['zoë@example.com', '🦄@example.com', 'ascii@example.com'];
      const body = ctx.syncBody({ segmentId, add: ids }).replace('ascii@', '\\u0061scii@');
      const sent = 'a sync page adding zoë@…, 🦄@… and \\u0061scii@… (an escaped "a")';
      const result = await ctx.post(body);
      if (!is2xx(result)) return { status: 'fail', sent, received: ctx.describe(result) };
      return expectMembers(ctx, segmentId, ids, sent, ctx.idToken);
    },
  },
];

/** Every check, in the order they run (and appear in the scorecard). */
export const CHECKS: readonly CheckDefinition[] = [
  ...signing,
  ...rawBytesChecks,
  ...protocol,
  ...variants,
  ...state,
];
