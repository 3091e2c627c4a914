// The admin JSON API (connections, segments, members, users, sync tasks, deliveries, changes): thin HTTP glue.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from 'pino';
import { adminIdentity, requireAdmin } from '../middleware/adminAuth';
import { methodNotAllowed, sendError } from '../middleware/errors';
import type { AdminAccess } from '../src/admin/access';
import {
  enumParam,
  integerParam,
  limitParam,
  segmentIdParam,
  textParam,
  timeParam,
  type Param,
} from '../src/admin/params';
import { AUDIT_EVENTS } from '../src/store/types';
import { DAY_MS, type AdminService, type SegmentWithFreshness } from '../src/admin/service';
import { decodeCursor, encodeCursor, tenantOfKey } from '../src/admin/urlKeys';
import {
  auditView,
  changeView,
  connectionView,
  deliveryView,
  isoTime,
  refusalMinuteView,
  segmentView,
  sizePointView,
  syncTaskView,
  userSegmentView,
} from '../src/admin/views';

export const MAX_MEMBERS_LIMIT = 1000;
export const MAX_CHANGES_LIMIT = 1000;
export const MAX_DELIVERIES_LIMIT = 500;
export const MAX_TASKS_LIMIT = 100;
export const MAX_SIZE_POINTS = 5000;
export const MAX_REFUSAL_MINUTES = 1440;
export const MAX_AUDIT_LIMIT = 500;
const DELIVERY_STATUSES = ['applied', 'duplicate', 'ignored', 'rejected'] as const;

export type AdminApiDeps = { access: AdminAccess; service: AdminService; logger: Logger };

class BadParameter extends Error {}

/** The value of a parsed parameter, or a BadParameter that the router turns into a 400. */
function paramValue<T>(param: Param<T>): T {
  if (!param.ok) throw new BadParameter(param.message);
  return param.value;
}

function cursorParam<T extends 'string' | 'number'>(req: Request, type: T) {
  const raw = paramValue(textParam(req.query.cursor, 'cursor', 8192));
  if (raw === undefined) return undefined;
  const position = decodeCursor(raw, type);
  if (position === undefined) {
    throw new BadParameter('cursor is not one this API issued; start again without it.');
  }
  return position;
}

function pathValue(req: Request, name: string): string {
  return String(req.params[name]);
}

/** The tenant and segment named by a `/connections/:connection/segments/:segment_id` path. */
function segmentRef(req: Request) {
  return {
    tenant: tenantOfKey(pathValue(req, 'connection')),
    segmentId: paramValue(segmentIdParam(pathValue(req, 'segment_id'))),
  };
}

function segmentList(segments: SegmentWithFreshness[], staleAfterSeconds: number) {
  return {
    stale_after_hours: staleAfterSeconds / 3600,
    segments: segments.map(({ segment, freshness }) => segmentView(segment, freshness)),
  };
}

function segmentNotFound(res: Response): void {
  sendError(res, 404, 'segment_not_found', 'No segment with this id in this connection.');
}

/** User → segments: the lookup a partner makes on its hot path. */
export const USER_SEGMENTS_PATH = '/api/connections/:connection/users/:user_id/segments';

function userSegments(service: AdminService): RequestHandler {
  return async (req, res) => {
    const segments = await service.segmentsOfUser(
      tenantOfKey(pathValue(req, 'connection')),
      pathValue(req, 'user_id'),
    );
    // The answer written straight out, not through res.json: Express's send path (content-type
    // negotiation, freshness check, length) was measurable CPU on a route served thousands of
    // times a second, and the body is always a small JSON object. Headers set earlier (security
    // headers, Cache-Control) stay: writeHead merges them.
    const body = JSON.stringify({ segments: segments.map(userSegmentView) });
    res.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  };
}

/**
 * The user → segments route's whole chain, for createApp to mount first (right after the security
 * headers) with GET: the same chain as through the admin router (cookies for dashboard sessions,
 * then requireAdmin, then the handler), without matching the ~35 layers of the routers mounted
 * before it, which the profile showed at about a tenth of the server's CPU per lookup.
 * adminApiRouter keeps the route too (its 405 for other methods, and apps that mount it alone).
 */
export function userSegmentsRoute(
  { access, service }: Pick<AdminApiDeps, 'access' | 'service'>,
  cookies: RequestHandler,
): RequestHandler[] {
  return [cookies, requireAdmin(access), userSegments(service)];
}

export function adminApiRouter({ access, service, logger }: AdminApiDeps): Router {
  const router = Router();
  // Every path under /api that reaches this router needs admin credentials, documented or not.
  router.use('/api', requireAdmin(access));

  const route = (path: string) => router.route(path);
  const segmentPath = '/api/connections/:connection/segments/:segment_id';

  route('/api/overview').get(async (_req, res) => {
    const overview = await service.overview();
    res.json({
      connections: overview.connections,
      segments: {
        count: overview.segments.count,
        members: overview.segments.members,
        stale: overview.segments.stale,
        stale_after_hours: overview.segments.staleAfterSeconds / 3600,
      },
      deliveries_24h: {
        since: isoTime(overview.deliveries.since),
        accepted: overview.deliveries.accepted,
        rejected: overview.deliveries.rejected,
        by_status: overview.deliveries.byStatus,
        rejected_by_reason: overview.deliveries.rejectedByReason,
      },
    });
  });

  route('/api/connections').get(async (_req, res) => {
    res.json({ connections: (await service.listConnections()).map(connectionView) });
  });

  route('/api/connections/:connection').get(async (req, res) => {
    const connection = await service.getConnection(tenantOfKey(pathValue(req, 'connection')));
    if (!connection) {
      sendError(res, 404, 'connection_not_found', 'No connection has this key.');
      return;
    }
    res.json(connectionView(connection));
  });

  route('/api/connections/:connection/disconnect').post(async (req, res) => {
    const connection = await service.disconnect(tenantOfKey(pathValue(req, 'connection')), {
      client: req.ip ?? null,
      via: adminIdentity(res).via,
    });
    if (!connection) {
      sendError(res, 404, 'connection_not_found', 'No connection has this key.');
      return;
    }
    logger.info('Heap connection disconnected by an admin');
    res.json(connectionView(connection));
  });

  route('/api/segments').get(async (req, res) => {
    const key = paramValue(textParam(req.query.connection, 'connection'));
    const staleOnly = paramValue(enumParam(req.query.stale, 'stale', ['true'] as const));
    const tenant = key === undefined ? undefined : tenantOfKey(key);
    const segments = staleOnly
      ? await service.staleSegments(tenant)
      : await service.listSegmentsWithFreshness(tenant);
    res.json(segmentList(segments, service.staleAfterSeconds));
  });

  route('/api/connections/:connection/segments').get(async (req, res) => {
    const segments = await service.listSegmentsWithFreshness(
      tenantOfKey(pathValue(req, 'connection')),
    );
    res.json(segmentList(segments, service.staleAfterSeconds));
  });

  route(segmentPath).get(async (req, res) => {
    const { tenant, segmentId } = segmentRef(req);
    const [segment, freshness] = await Promise.all([
      service.getSegment(tenant, segmentId),
      service.segmentFreshness(tenant, segmentId),
    ]);
    if (!segment) return segmentNotFound(res);
    res.json(segmentView(segment, freshness));
  });

  route(`${segmentPath}/members`).get(async (req, res) => {
    const { tenant, segmentId } = segmentRef(req);
    const limit = paramValue(limitParam(req.query.limit, 100, MAX_MEMBERS_LIMIT));
    const prefix = paramValue(textParam(req.query.prefix, 'prefix'));
    const after = cursorParam(req, 'string');
    const page = await service.members(tenant, segmentId, { after, limit, prefix });
    if (!page) return segmentNotFound(res);
    res.json({
      members: page.items,
      next_cursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor),
    });
  });

  route(`${segmentPath}/members.csv`).get(async (req, res) => {
    const { tenant, segmentId } = segmentRef(req);
    if (!(await service.getSegment(tenant, segmentId))) return segmentNotFound(res);
    res.type('text/csv; charset=utf-8');
    res.attachment(`segment-${segmentId}-members.csv`);
    // pipeline handles backpressure (the next page is read only when the client takes this one)
    // and stops reading when the client goes away.
    await pipeline(Readable.from(service.membersCsv(tenant, segmentId)), res).catch(
      (error: unknown) => {
        // A client that goes away mid-download is normal; anything else is worth a warning.
        const clientLeft = (error as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE';
        logger[clientLeft ? 'info' : 'warn']({ err: error }, 'CSV export ended early');
      },
    );
  });

  route(`${segmentPath}/sync-tasks`).get(async (req, res) => {
    const { tenant, segmentId } = segmentRef(req);
    const limit = paramValue(limitParam(req.query.limit, 20, MAX_TASKS_LIMIT));
    if (!(await service.getSegment(tenant, segmentId))) return segmentNotFound(res);
    const tasks = await service.listSyncTasks(tenant, segmentId, limit);
    res.json({ sync_tasks: tasks.map(syncTaskView) });
  });

  route(`${segmentPath}/sync-tasks/:sync_task_id`).get(async (req, res) => {
    const { tenant, segmentId } = segmentRef(req);
    const task = await service.getSyncTask(tenant, segmentId, pathValue(req, 'sync_task_id'));
    if (!task) {
      sendError(res, 404, 'sync_task_not_found', 'No sync task with this id for this segment.');
      return;
    }
    res.json(syncTaskView(task));
  });

  route(`${segmentPath}/size-history`).get(async (req, res) => {
    const { tenant, segmentId } = segmentRef(req);
    const since = paramValue(timeParam(req.query.since, 'since')) ?? Date.now() - 30 * DAY_MS;
    const maxPoints = paramValue(
      integerParam(req.query.max_points, 'max_points', {
        min: 2,
        max: MAX_SIZE_POINTS,
        fallback: 500,
      }),
    ) as number;
    if (!(await service.getSegment(tenant, segmentId))) return segmentNotFound(res);
    const history = await service.sizeHistory(tenant, segmentId, { since, maxPoints });
    res.json({
      since: isoTime(since),
      downsampled: history.downsampled,
      points: history.points.map(sizePointView),
    });
  });

  route(USER_SEGMENTS_PATH).get(userSegments(service));

  route('/api/deliveries').get(async (req, res) => {
    const limit = paramValue(limitParam(req.query.limit, 50, MAX_DELIVERIES_LIMIT));
    const connection = paramValue(textParam(req.query.connection, 'connection'));
    const deliveries = await service.listDeliveries({
      limit,
      before: cursorParam(req, 'number'),
      status: paramValue(enumParam(req.query.status, 'status', DELIVERY_STATUSES)),
      reason: paramValue(textParam(req.query.reason, 'reason', 200)),
      tenant: connection === undefined ? undefined : tenantOfKey(connection),
      since: paramValue(timeParam(req.query.since, 'since')),
      until: paramValue(timeParam(req.query.until, 'until')),
    });
    const last = deliveries[deliveries.length - 1];
    res.json({
      deliveries: deliveries.map(deliveryView),
      next_cursor: deliveries.length === limit && last ? encodeCursor(last.id) : null,
    });
  });

  route('/api/changes').get(async (req, res) => {
    const after = paramValue(
      integerParam(req.query.after, 'after', { min: 0, max: Number.MAX_SAFE_INTEGER, fallback: 0 }),
    ) as number;
    const limit = paramValue(limitParam(req.query.limit, 100, MAX_CHANGES_LIMIT));
    const connection = paramValue(textParam(req.query.connection, 'connection'));
    const segmentId = paramValue(
      integerParam(req.query.segment_id, 'segment_id', { min: 0, max: Number.MAX_SAFE_INTEGER }),
    );
    const read = await service.listChanges({
      after,
      limit,
      tenant: connection === undefined ? undefined : tenantOfKey(connection),
      segmentId,
    });
    if (!read.ok) {
      res.status(410).json({
        error: 'changes_expired',
        message: `Changes after ${after} are no longer kept (CHANGES_RETENTION_DAYS); resync from the members endpoints, then read on from the newest change.`,
        oldest_seq: read.oldestSeq,
      });
      return;
    }
    const { changes } = read;
    res.json({
      changes: changes.map(changeView),
      next_after: changes.length > 0 ? changes[changes.length - 1].seq : after,
    });
  });

  route('/api/refusals').get(async (req, res) => {
    const limit = paramValue(limitParam(req.query.limit, 60, MAX_REFUSAL_MINUTES));
    const minutes = await service.refusalsByMinute({
      limit,
      before: cursorParam(req, 'number'),
      since: paramValue(timeParam(req.query.since, 'since')),
    });
    const last = minutes[minutes.length - 1];
    res.json({
      minutes: minutes.map(refusalMinuteView),
      next_cursor: minutes.length === limit && last ? encodeCursor(last.minute) : null,
    });
  });

  route('/api/audit').get(async (req, res) => {
    const limit = paramValue(limitParam(req.query.limit, 50, MAX_AUDIT_LIMIT));
    const entries = await service.listAudit({
      limit,
      before: cursorParam(req, 'number'),
      event: paramValue(enumParam(req.query.event, 'event', AUDIT_EVENTS)),
    });
    const last = entries[entries.length - 1];
    res.json({
      entries: entries.map(auditView),
      next_cursor: entries.length === limit && last ? encodeCursor(last.id) : null,
    });
  });

  const paths = router.stack.flatMap((layer) => {
    const path = (layer.route as { path?: string } | undefined)?.path;
    return path ? [path] : [];
  });
  for (const path of paths) router.all(path, methodNotAllowed(allowedMethods(router, path)));

  router.use('/api', (error: unknown, _req: Request, res: Response, next: (e: unknown) => void) => {
    if (error instanceof BadParameter) {
      sendError(res, 400, 'invalid_parameter', error.message);
      return;
    }
    next(error);
  });
  return router;
}

function allowedMethods(router: Router, path: string): string[] {
  const methods = new Set<string>();
  for (const layer of router.stack) {
    const route = layer.route as { path?: string; methods?: Record<string, boolean> } | undefined;
    if (route?.path === path) {
      for (const [method, on] of Object.entries(route.methods ?? {})) {
        if (on && method !== '_all') methods.add(method.toUpperCase());
      }
    }
  }
  return [...methods];
}
