// Parses and validates webhook bodies with the validator compiled from webhook_spec.yaml (the spec is the validator), normalising Heap's published variants to one shape.
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { validate as compiledWebhookRequest } from './webhookRequestValidator';

export const SYNC_ACTION = 'segment.users.sync';
export const DRAIN_ACTION = 'segment.users.drain';

/**
 * webhook_spec.yaml's WebhookRequest schema as ajv compiles it, kept as generated code
 * (specSchema.ts, `npm run generate:validator`; a test fails when it no longer matches the spec).
 * Compiling it at start-up loaded yaml and ajv (155 modules) and held about 12 MB of the server's
 * idle RSS, for one schema that only changes with the spec.
 */
export const validateWebhookRequest = compiledWebhookRequest as unknown as ValidateFunction;

type Common = {
  actionType: string;
  /** Undefined for the partner's own environment. */
  idToken: string | undefined;
};

export type SyncDelivery = Common & {
  kind: 'sync';
  segment: { id: number; name: string | undefined };
  customerConfig: unknown;
  /**
   * For a body without `sync_info` (a published variant): page 1 of 1 of the task
   * `body-sha256:<hex of the raw body>`, so an identical body retried is a duplicate page.
   */
  syncInfo: { pageNumber: number; totalPages: number; syncTaskId: string };
  add: string[];
  remove: string[];
};

export type DrainDelivery = Common & {
  kind: 'drain';
  segment: { id: number; name: string | undefined };
  customerConfig: unknown;
};

/** A correctly signed action this receiver does not know (recorded and ignored, not applied). */
export type UnknownDelivery = Common & { kind: 'unknown'; segmentId: number | null };

export type WebhookDelivery = SyncDelivery | DrainDelivery | UnknownDelivery;

export type ParseResult =
  | { ok: true; delivery: WebhookDelivery }
  | { ok: false; error: 'invalid_json' | 'invalid_payload'; message: string };

/** `$.data.sync_info.page_number: must be integer` from an ajv error. */
export function describeValidationError(error: ErrorObject): string {
  let jsonPath = '$' + error.instancePath.split('/').slice(1).map(pathSegment).join('');
  if (error.keyword === 'required') {
    jsonPath += pathSegment(String((error.params as { missingProperty: string }).missingProperty));
    return `${jsonPath}: is required`;
  }
  if (error.keyword === 'anyOf') {
    const title = (error.parentSchema as { title?: string } | undefined)?.title;
    return `${jsonPath}: must be ${title ?? 'one of the accepted forms'}`;
  }
  if (error.keyword === 'const') {
    return `${jsonPath}: must be ${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}`;
  }
  return `${jsonPath}: ${error.message ?? 'is invalid'}`;
}

/** Parses a raw (already authenticated) body into a typed delivery, or says precisely why not. */
export function parseWebhookBody(body: Buffer): ParseResult {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch (error) {
    return {
      ok: false,
      error: 'invalid_json',
      message: `Body is not valid JSON: ${(error as Error).message}`,
    };
  }
  const aliased = applyAliases(json);
  if (!aliased.ok) return { ok: false, error: 'invalid_payload', message: aliased.message };
  const validate = validateWebhookRequest;
  if (!validate(aliased.json)) {
    const errors = validate.errors ?? [];
    const anyOf = errors.find((e) => e.keyword === 'anyOf');
    const first = anyOf
      ? (branchError(anyOf, errors) ?? anyOf)
      : (errors.find((e) => e.keyword !== 'if') ?? errors[0]);
    const message = first ? describeValidationError(first) : 'Payload does not match the schema';
    return { ok: false, error: 'invalid_payload', message: aliased.unalias(message) };
  }
  const raw = aliased.json as RawRequest;
  const tooLarge = segmentIdTooLarge(raw);
  if (tooLarge) return { ok: false, error: 'invalid_payload', message: tooLarge };
  return { ok: true, delivery: toDelivery(raw, body) };
}

/**
 * For a value refused by every form of an `anyOf` (a segment id, a user id), the error of the
 * form of the value's own JSON type (`1.5` → "must be integer", `"a\u0000b"` → the pattern), so
 * the message says what is wrong with it; undefined when no form has its type (then the
 * `anyOf`'s title lists the accepted forms).
 */
function branchError(anyOf: ErrorObject, errors: ErrorObject[]): ErrorObject | undefined {
  const branches = (anyOf.parentSchema as { anyOf?: Array<{ type?: string }> }).anyOf ?? [];
  const value: unknown = anyOf.data;
  const type = typeof value === 'number' ? 'integer' : typeof value;
  const index = branches.findIndex((branch) => branch.type === type);
  if (index < 0) return undefined;
  const prefix = `${anyOf.schemaPath}/${index}/`;
  return errors.find((e) => e.schemaPath.startsWith(prefix));
}

/**
 * Older names Heap published for two top-level fields (README, "What we accept beyond Heap's
 * current spec"): each is read as the current one when that one is absent, and must agree with
 * it when both are sent. Validation then runs on the current names; `unalias` puts the name the
 * sender used back into an error message.
 */
export const FIELD_ALIASES = [
  { old: 'action', current: 'action_type' },
  { old: 'partner_config', current: 'customer_config' },
] as const;

type Aliased =
  | { ok: true; json: unknown; unalias: (message: string) => string }
  | { ok: false; message: string };

function applyAliases(json: unknown): Aliased {
  const same = (message: string) => message;
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { ok: true, json, unalias: same };
  }
  const body = json as Record<string, unknown>;
  const renamed: Array<{ old: string; current: string }> = [];
  let out = body;
  for (const { old, current } of FIELD_ALIASES) {
    if (!Object.hasOwn(body, old)) continue;
    if (Object.hasOwn(body, current)) {
      if (!isDeepStrictEqual(body[old], body[current])) {
        return { ok: false, message: `$.${old}: must equal $.${current} when both are sent` };
      }
      continue;
    }
    out = { ...out, [current]: body[old] };
    renamed.push({ old, current });
  }
  if (renamed.length === 0) return { ok: true, json, unalias: same };
  const unalias = (message: string) => {
    for (const { old, current } of renamed) {
      if (message.startsWith(`$.${current}:`) || message.startsWith(`$.${current}.`)) {
        return `$.${old}${message.slice(current.length + 2)}`;
      }
    }
    return message;
  };
  return { ok: true, json: out, unalias };
}

/** A user id as sent: a string, or an integer (stored as its decimal string). */
type RawUser = { id: string | number };
type RawRequest = {
  action_type: string;
  id_token?: string;
  customer_config?: unknown;
  data?: {
    /** An integer, or that integer as a decimal string ("777" is segment 777). */
    segment?: { id?: unknown; name?: string | null };
    sync_info?: { page_number: number; total_pages: number; sync_task_id: string };
    add?: RawUser[];
    remove?: RawUser[];
  };
};

const SEGMENT_ID_TEXT = /^(0|[1-9][0-9]*)$/;

/**
 * The schema checks a string segment id's digits; the range is checked here (a pattern for
 * "at most 2^53-1" would be unreadable). Only for the two actions whose schema requires an id.
 */
function segmentIdTooLarge(raw: RawRequest): string | undefined {
  if (raw.action_type !== SYNC_ACTION && raw.action_type !== DRAIN_ACTION) return undefined;
  const id = raw.data?.segment?.id;
  if (typeof id === 'string' && !Number.isSafeInteger(Number(id))) {
    return '$.data.segment.id: must be <= 9007199254740991';
  }
  return undefined;
}

/** The segment id as the integer it is stored under; null when it is not one (unknown actions). */
function segmentIdOf(id: unknown): number | null {
  const value = typeof id === 'string' && SEGMENT_ID_TEXT.test(id) ? Number(id) : id;
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : null;
}

function userIdOf(user: RawUser): string {
  return typeof user.id === 'number' ? String(user.id) : user.id;
}

function toDelivery(raw: RawRequest, body: Buffer): WebhookDelivery {
  const common = { actionType: raw.action_type, idToken: raw.id_token };
  const data = raw.data;
  const segment = data?.segment && {
    id: segmentIdOf(data.segment.id) as number,
    name: data.segment.name ?? undefined,
  };
  if (raw.action_type === SYNC_ACTION && data && segment) {
    const syncInfo = data.sync_info
      ? {
          pageNumber: data.sync_info.page_number,
          totalPages: data.sync_info.total_pages,
          syncTaskId: data.sync_info.sync_task_id,
        }
      : {
          pageNumber: 1,
          totalPages: 1,
          syncTaskId: `body-sha256:${createHash('sha256').update(body).digest('hex')}`,
        };
    return {
      ...common,
      kind: 'sync',
      segment,
      customerConfig: raw.customer_config ?? null,
      syncInfo,
      add: (data.add ?? []).map(userIdOf),
      remove: (data.remove ?? []).map(userIdOf),
    };
  }
  if (raw.action_type === DRAIN_ACTION && segment) {
    return {
      ...common,
      kind: 'drain',
      segment,
      customerConfig: raw.customer_config ?? null,
    };
  }
  return { ...common, kind: 'unknown', segmentId: segmentIdOf(data?.segment?.id) };
}

function pathSegment(segment: string): string {
  const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
  if (/^[0-9]+$/.test(key)) return `[${key}]`;
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) return `.${key}`;
  return `[${JSON.stringify(key)}]`;
}
