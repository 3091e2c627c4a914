// The Developers Hub's JSON API under /api/hub: sample, syncs, drains, connections, webhook, faults.
import express, {
  Router,
  type ErrorRequestHandler,
  type RequestHandler,
  type Response,
} from 'express';
import { unknownSelectors } from '../checker';
import type { CheckRequest, CheckRunner, CheckRunRecord } from './checks';
import { parseFaults, type FaultInjector, type Faults } from './faults';
import type { MembershipChange } from './membership';
import type { Connection, OAuthProvider } from './provider';
import { SAMPLE_SEGMENT, type RunManager, type SyncRequest } from './runs';
import type { HubState, RunRecord, SegmentState } from './state';
import {
  fieldError,
  httpUrl,
  MAX_SEGMENT_ID,
  objectBody,
  optionalText,
  optionalWholeNumber,
  wholeNumber,
  type Checked,
  type FieldError,
} from './validation';

export const HUB_API_PATH = '/api/hub';

const MAX_USERS = 100_000;
const MAX_PAGE_SIZE = 10_000;
const DEFAULT_PAGE_SIZE = 100;
const MAX_NAME_LENGTH = 200;
const MAX_ID_TOKEN_LENGTH = 200;

export type HubRouterDeps = {
  state: HubState;
  runs: RunManager;
  provider: OAuthProvider;
  faults: FaultInjector;
  checks: CheckRunner;
  /** The only webhook URLs allowed (mounted in the app: its own); any http(s) URL when absent. */
  allowedWebhookUrls?: string[];
};

export function hubRouter({
  state,
  runs,
  provider,
  faults,
  checks,
  allowedWebhookUrls,
}: HubRouterDeps): Router {
  const router = Router();
  router.use(HUB_API_PATH, requireJsonBodies, express.json({ limit: '64kb' }));

  router.get(`${HUB_API_PATH}/webhook`, (_req, res) => {
    res.json(webhookView(state));
  });
  router.put(`${HUB_API_PATH}/webhook`, (req, res) => {
    const body = objectBody(req.body, ['url']);
    const url = body.ok ? httpUrl(body.value.url, 'url') : body;
    if (!url.ok) return sendFieldError(res, url);
    if (allowedWebhookUrls && !allowedWebhookUrls.some((allowed) => sameUrl(allowed, url.value))) {
      // Mounted in the app, the emulator signs deliveries for that app only: pointing them
      // elsewhere would make the app's server send requests wherever a caller asks.
      return sendError(
        res,
        403,
        'webhook_url_not_allowed',
        `Inside the app the emulator delivers only to the app's own webhook URL (${allowedWebhookUrls.join(', ')}). To deliver anywhere else, run the standalone emulator: npm run heap-emulator.`,
        'url',
      );
    }
    state.webhookUrl = url.value;
    res.json(webhookView(state));
  });

  router.get(`${HUB_API_PATH}/connections`, (_req, res) => {
    res.json({ connections: provider.listConnections().map(connectionView) });
  });

  router.get(`${HUB_API_PATH}/segments`, (_req, res) => {
    res.json({ segments: state.listSegments().map(segmentView) });
  });

  router.post(`${HUB_API_PATH}/sample-segment`, async (req, res) => {
    const body = objectBody(req.body, ['id_token']);
    const idToken = body.ok
      ? optionalText(body.value.id_token, 'id_token', MAX_ID_TOKEN_LENGTH)
      : body;
    if (!idToken.ok) return sendFieldError(res, idToken);
    const result = await runs.sendSample(idToken.value);
    if (!result.ok)
      return sendError(res, result.status, result.error, result.message, result.field);
    res.json(runView(result.run));
  });

  router.post(`${HUB_API_PATH}/syncs`, (req, res) => {
    const request = parseSyncRequest(req.body);
    if (!request.ok) return sendFieldError(res, request);
    const result = runs.startSync(request.value);
    if (!result.ok)
      return sendError(res, result.status, result.error, result.message, result.field);
    res.status(202).location(`${req.baseUrl}${HUB_API_PATH}/syncs/${result.run.id}`);
    res.json(runView(result.run));
  });
  router.get(`${HUB_API_PATH}/syncs`, (_req, res) => {
    res.json({ runs: state.listRuns().map(runView) });
  });
  router.get(`${HUB_API_PATH}/syncs/:id`, (req, res) => {
    const run = state.run(req.params.id);
    if (!run) return sendError(res, 404, 'not_found', `No run has id ${req.params.id}.`);
    res.json(runView(run));
  });

  router.post(`${HUB_API_PATH}/drain`, (req, res) => {
    const request = parseDrainRequest(req.body);
    if (!request.ok) return sendFieldError(res, request);
    const result = runs.startDrain(request.value.idToken, request.value.segmentId);
    if (!result.ok)
      return sendError(res, result.status, result.error, result.message, result.field);
    res.status(202).location(`${req.baseUrl}${HUB_API_PATH}/syncs/${result.run.id}`);
    res.json(runView(result.run));
  });

  // "Check a receiver": the conformance checker against the webhook URL, one run at a time.
  router.post(`${HUB_API_PATH}/checks`, (req, res) => {
    const request = parseCheckRequest(req.body);
    if (!request.ok) return sendFieldError(res, request);
    const result = checks.start(request.value);
    if (!result.ok) return sendError(res, result.status, result.error, result.message);
    res.status(202).location(`${req.baseUrl}${HUB_API_PATH}/checks/latest`);
    res.json(checkRunView(result.run));
  });
  router.get(`${HUB_API_PATH}/checks/latest`, (_req, res) => {
    const run = checks.latest;
    if (!run) return sendError(res, 404, 'not_found', 'No check has been run yet.');
    res.json(checkRunView(run));
  });
  router.delete(`${HUB_API_PATH}/checks/latest`, (_req, res) => {
    if (!checks.cancel()) return sendError(res, 409, 'check_not_running', 'No check is running.');
    res.status(202).json(checkRunView(checks.latest as CheckRunRecord));
  });

  router.get(`${HUB_API_PATH}/faults`, (_req, res) => {
    res.json(faultsView(faults.current));
  });
  router.post(`${HUB_API_PATH}/faults`, (req, res) => {
    const next = parseFaults(req.body, faults.current);
    if (!next.ok) return sendFieldError(res, next);
    faults.set(next.value);
    res.json(faultsView(faults.current));
  });
  router.delete(`${HUB_API_PATH}/faults`, (_req, res) => {
    faults.reset();
    res.json(faultsView(faults.current));
  });

  router.use(HUB_API_PATH, (req, res) => {
    sendError(
      res,
      404,
      'not_found',
      `Nothing is served at ${req.method} ${req.originalUrl.split('?')[0]}.`,
    );
  });
  router.use(HUB_API_PATH, jsonErrors);
  return router;
}

function sameUrl(a: string, b: string): boolean {
  return new URL(a).href === new URL(b).href;
}

/** Parses `{ segment_id, segment_name?, id_token?, users? | churn?, page_size? }`. */
export function parseSyncRequest(body: unknown): Checked<SyncRequest> {
  const object = objectBody(body, [
    'segment_id',
    'segment_name',
    'id_token',
    'users',
    'churn',
    'page_size',
  ]);
  if (!object.ok) return object;
  const fields = object.value;
  const segmentId = parseSegmentId(fields.segment_id);
  if (!segmentId.ok) return segmentId;
  const segmentName = optionalText(fields.segment_name, 'segment_name', MAX_NAME_LENGTH);
  if (!segmentName.ok) return segmentName;
  const idToken = optionalText(fields.id_token, 'id_token', MAX_ID_TOKEN_LENGTH);
  if (!idToken.ok) return idToken;
  const change = parseChange(fields.users, fields.churn);
  if (!change.ok) return change;
  const pageSize = optionalWholeNumber(fields.page_size, 'page_size', 1, MAX_PAGE_SIZE);
  if (!pageSize.ok) return pageSize;
  return {
    ok: true,
    value: {
      segmentId: segmentId.value,
      segmentName: segmentName.value,
      idToken: idToken.value,
      change: change.value,
      pageSize: pageSize.value ?? DEFAULT_PAGE_SIZE,
    },
  };
}

function parseDrainRequest(
  body: unknown,
): Checked<{ segmentId: number; idToken: string | undefined }> {
  const object = objectBody(body, ['segment_id', 'id_token']);
  if (!object.ok) return object;
  const segmentId = parseSegmentId(object.value.segment_id);
  if (!segmentId.ok) return segmentId;
  const idToken = optionalText(object.value.id_token, 'id_token', MAX_ID_TOKEN_LENGTH);
  if (!idToken.ok) return idToken;
  return { ok: true, value: { segmentId: segmentId.value, idToken: idToken.value } };
}

const MAX_SELECTORS = 100;

function parseCheckRequest(body: unknown): Checked<CheckRequest> {
  const object = objectBody(body, ['id_token', 'only', 'skip']);
  if (!object.ok) return object;
  const idToken = optionalText(object.value.id_token, 'id_token', MAX_ID_TOKEN_LENGTH);
  if (!idToken.ok) return idToken;
  const only = parseSelectors(object.value.only, 'only');
  if (!only.ok) return only;
  const skip = parseSelectors(object.value.skip, 'skip');
  if (!skip.ok) return skip;
  return { ok: true, value: { idToken: idToken.value, only: only.value, skip: skip.value } };
}

/** Check ids or groups, as the CLI's --only/--skip take them; a name that selects nothing is refused. */
function parseSelectors(value: unknown, field: string): Checked<string[] | undefined> {
  if (value === undefined || value === null) return { ok: true, value: undefined };
  if (
    !Array.isArray(value) ||
    value.length > MAX_SELECTORS ||
    !value.every((item) => typeof item === 'string' && item.length > 0 && item.length <= 100)
  ) {
    return fieldError(
      field,
      `${field} must be a list of up to ${MAX_SELECTORS} check ids or groups.`,
    );
  }
  const selectors = value as string[];
  const unknown = unknownSelectors(selectors);
  if (unknown.length > 0) {
    return fieldError(field, `${field} names no check: ${unknown.join(', ')}.`);
  }
  return { ok: true, value: selectors.length === 0 ? undefined : selectors };
}

function parseSegmentId(value: unknown): Checked<number> {
  const segmentId = wholeNumber(value, 'segment_id', 0, MAX_SEGMENT_ID);
  if (segmentId.ok && segmentId.value === SAMPLE_SEGMENT.id) {
    return fieldError(
      'segment_id',
      `segment_id ${SAMPLE_SEGMENT.id} is reserved for the sample segment.`,
    );
  }
  return segmentId;
}

function parseChange(users: unknown, churn: unknown): Checked<MembershipChange> {
  if (users !== undefined && churn !== undefined) {
    return fieldError('churn', 'Give users or churn, not both.');
  }
  if (users !== undefined) {
    const count = wholeNumber(users, 'users', 0, MAX_USERS);
    return count.ok ? { ok: true, value: { kind: 'target', users: count.value } } : count;
  }
  if (churn === undefined) return { ok: true, value: { kind: 'none' } };
  const object = objectBody(churn, ['add', 'remove'], 'churn');
  if (!object.ok) return object;
  const add = optionalWholeNumber(object.value.add, 'churn.add', 0, MAX_USERS);
  if (!add.ok) return add;
  const remove = optionalWholeNumber(object.value.remove, 'churn.remove', 0, MAX_USERS);
  if (!remove.ok) return remove;
  return { ok: true, value: { kind: 'churn', add: add.value ?? 0, remove: remove.value ?? 0 } };
}

/** POST and PUT must say they send JSON: a cross-site form cannot, so it cannot start a run. */
const requireJsonBodies: RequestHandler = (req, res, next) => {
  const writes = req.method === 'POST' || req.method === 'PUT';
  if (writes && !/^application\/json\s*(;|$)/i.test(req.get('content-type') ?? '')) {
    sendError(
      res,
      415,
      'unsupported_media_type',
      'Send a JSON body with Content-Type: application/json ({} when empty).',
    );
    return;
  }
  next();
};

const jsonErrors: ErrorRequestHandler = (error, _req, res, next) => {
  if (res.headersSent) {
    next(error);
    return;
  }
  const type = (error as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') {
    sendError(res, 413, 'payload_too_large', 'The body is too large.');
  } else if (type === 'entity.parse.failed') {
    sendError(res, 400, 'invalid_json', 'The body is not valid JSON.');
  } else {
    sendError(res, 500, 'internal_error', 'Something went wrong in the emulator.');
  }
};

function sendFieldError(res: Response, error: FieldError): void {
  sendError(res, 400, 'invalid_field', error.message, error.field);
}

function sendError(
  res: Response,
  status: number,
  error: string,
  message: string,
  field?: string,
): void {
  res.status(status).json({ error, message, ...(field === undefined ? {} : { field }) });
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function webhookView(state: HubState) {
  // The secret is never shown: the Developers Hub holds it, the partner's config has its copy.
  return { url: state.webhookUrl, secret_configured: true };
}

function connectionView(connection: Connection) {
  return {
    id_token: connection.idToken,
    env_id: connection.envId,
    client_id: connection.clientId,
    app_name: connection.appName,
    authorized_by: connection.authorizedBy,
    authorized_at_utc: iso(connection.authorizedAt),
  };
}

function segmentView(segment: SegmentState) {
  return {
    id_token: segment.idToken ?? null,
    segment_id: segment.segment.id,
    segment_name: segment.segment.name,
    member_count: segment.membership.members.size,
    members: [...segment.membership.members],
    busy: segment.busy,
  };
}

function faultsView(faults: Faults) {
  return { token: faults.token, metadata: faults.metadata, hold_ms: faults.holdMs };
}

export function checkRunView(run: CheckRunRecord) {
  const card = run.scorecard;
  return {
    id: run.id,
    state: run.state,
    webhook_url: run.url,
    started_at: iso(run.startedAt),
    total_checks: run.total,
    checks_done: run.results.length,
    current_check: run.current,
    error: run.error,
    // Known once the run ended: what the CLI prints as its total and exit status.
    score: card?.score ?? null,
    totals: card?.totals ?? null,
    ok: card?.ok ?? null,
    state_aware: card?.stateAware ?? false,
    results: run.results.map((result) => ({
      id: result.id,
      group: result.group,
      title: result.title,
      status: result.status,
      sent: result.sent,
      received: result.received,
      detail: result.detail ?? null,
      why: result.why,
      fix: result.fix,
      duration_ms: result.durationMs,
    })),
  };
}

export function runView(run: RunRecord) {
  return {
    id: run.id,
    kind: run.kind,
    state: run.state,
    id_token: run.idToken ?? null,
    segment: run.segment,
    sync_task_id: run.syncTaskId,
    webhook_url: run.webhookUrl,
    total_pages: run.pages.length,
    pages_delivered: run.pages.filter((page) => page.state === 'delivered').length,
    pages_failed: run.pages.filter((page) => page.state === 'failed').length,
    attempt_count: run.pages.reduce((sum, page) => sum + page.attempts.length, 0),
    changes: run.changes,
    member_count: run.memberCount,
    started_at: iso(run.startedAt),
    finished_at: iso(run.finishedAt),
    error: run.error,
    pages: run.pages.map((page) => ({
      page_number: page.pageNumber,
      add: page.add,
      remove: page.remove,
      state: page.state,
      attempts: page.attempts.map((attempt) => ({
        attempt: attempt.attempt,
        status: attempt.status,
        error: attempt.error,
        latency_ms: attempt.latencyMs,
        waited_ms: attempt.waitedMs,
        at: iso(attempt.at),
      })),
    })),
  };
}
