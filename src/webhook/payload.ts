// Parses and validates webhook bodies with schemas compiled from webhook_spec.yaml (the spec is the validator).
import { readFileSync } from 'node:fs';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import { parse as parseYaml } from 'yaml';
import { webhookSpecPath } from '../config/paths';

export const SYNC_ACTION = 'segment.users.sync';
export const DRAIN_ACTION = 'segment.users.drain';

type Common = {
  actionType: string;
  /** Undefined for the partner's own environment. */
  idToken: string | undefined;
};

export type SyncDelivery = Common & {
  kind: 'sync';
  segment: { id: number; name: string | undefined };
  customerConfig: unknown;
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

type OpenApiDocument = { components: { schemas: Record<string, unknown> } } & Record<
  string,
  unknown
>;

let cachedSpec: OpenApiDocument | undefined;
const validators = new Map<string, ValidateFunction>();

/** The parsed webhook_spec.yaml. */
export function loadWebhookSpec(): OpenApiDocument {
  cachedSpec ??= parseYaml(readFileSync(webhookSpecPath, 'utf8')) as OpenApiDocument;
  return cachedSpec;
}

/**
 * Compiles a validator for a schema reachable in the spec. OpenAPI's `#/components/schemas/X`
 * references are mapped onto JSON Schema `$defs` so ajv resolves them without the rest of the
 * OpenAPI document. `schemas` defaults to webhook_spec.yaml's (the tests also check admin_api.yaml).
 */
export function compileSpecSchema(
  schema: unknown,
  schemas: Record<string, unknown> = loadWebhookSpec().components.schemas,
): ValidateFunction {
  const defs = rewriteRefs(schemas) as Record<string, unknown>;
  // `format` is documentation here (Heap's own "uuid" examples are not UUIDs).
  const ajv = new Ajv2020({
    allErrors: false,
    strict: true,
    strictTypes: false,
    validateFormats: false,
  });
  return ajv.compile({ $defs: defs, ...(rewriteRefs(schema) as object) });
}

/** Validator for a named schema under components.schemas (compiled once). */
export function specValidator(name: string): ValidateFunction {
  let validate = validators.get(name);
  if (!validate) {
    validate = compileSpecSchema({ $ref: `#/components/schemas/${name}` });
    validators.set(name, validate);
  }
  return validate;
}

/** `$.data.sync_info.page_number: must be integer` from an ajv error. */
export function describeValidationError(error: ErrorObject): string {
  let jsonPath = '$' + error.instancePath.split('/').slice(1).map(pathSegment).join('');
  if (error.keyword === 'required') {
    jsonPath += pathSegment(String((error.params as { missingProperty: string }).missingProperty));
    return `${jsonPath}: is required`;
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
  const validate = specValidator('WebhookRequest');
  if (!validate(json)) {
    const first = validate.errors?.find((e) => e.keyword !== 'if') ?? validate.errors?.[0];
    return {
      ok: false,
      error: 'invalid_payload',
      message: first ? describeValidationError(first) : 'Payload does not match the schema',
    };
  }
  return { ok: true, delivery: toDelivery(json as RawRequest) };
}

type RawUser = { id: string };
type RawRequest = {
  action_type: string;
  id_token?: string;
  customer_config?: unknown;
  data?: {
    segment?: { id?: unknown; name?: string };
    sync_info?: { page_number: number; total_pages: number; sync_task_id: string };
    add?: RawUser[];
    remove?: RawUser[];
  };
};

function toDelivery(raw: RawRequest): WebhookDelivery {
  const common = { actionType: raw.action_type, idToken: raw.id_token };
  const data = raw.data;
  if (raw.action_type === SYNC_ACTION && data?.segment && data.sync_info) {
    return {
      ...common,
      kind: 'sync',
      segment: { id: data.segment.id as number, name: data.segment.name },
      customerConfig: raw.customer_config ?? null,
      syncInfo: {
        pageNumber: data.sync_info.page_number,
        totalPages: data.sync_info.total_pages,
        syncTaskId: data.sync_info.sync_task_id,
      },
      add: (data.add ?? []).map((user) => user.id),
      remove: (data.remove ?? []).map((user) => user.id),
    };
  }
  if (raw.action_type === DRAIN_ACTION && data?.segment) {
    return {
      ...common,
      kind: 'drain',
      segment: { id: data.segment.id as number, name: data.segment.name },
      customerConfig: raw.customer_config ?? null,
    };
  }
  const id = data?.segment?.id;
  return {
    ...common,
    kind: 'unknown',
    segmentId: typeof id === 'number' && Number.isSafeInteger(id) ? id : null,
  };
}

function pathSegment(segment: string): string {
  const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
  if (/^[0-9]+$/.test(key)) return `[${key}]`;
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) return `.${key}`;
  return `[${JSON.stringify(key)}]`;
}

function rewriteRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] =
      key === '$ref' && typeof value === 'string'
        ? value.replace('#/components/schemas/', '#/$defs/')
        : rewriteRefs(value);
  }
  return out;
}
