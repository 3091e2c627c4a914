// Runs what the Developers Hub sends (segment syncs, drains, the sample) and records every attempt.
import { randomUUID } from 'node:crypto';
import { sendSignedWebhook } from '../webhook/send';
import { buildDrain, buildSyncPages, dummyUsers, type SegmentRef } from '../webhook/outgoing';
import { abortableWait, deliverWithRetry } from './delivery';
import { applyDelivered, emptyMembership, planDelta, type MembershipChange } from './membership';
import type { RetryPolicy } from './options';
import type { HubState, PageRecord, RunKind, RunRecord, SegmentState } from './state';

export type RunManagerDeps = {
  state: HubState;
  /** Whether an id_token belongs to an authorized connection. */
  isConnected: (idToken: string) => boolean;
  secret: string;
  retry: RetryPolicy;
  now: () => number;
  random: () => number;
};

export type SyncRequest = {
  idToken: string | undefined;
  segmentId: number;
  segmentName: string | undefined;
  change: MembershipChange;
  pageSize: number;
};

export type RunRefusal = {
  ok: false;
  status: 400 | 409 | 503;
  error: string;
  field?: string;
  message: string;
};
export type RunStarted = { ok: true; run: RunRecord };

/**
 * What Heap's "Send sample segment" button sends: a few dummy users in a segment of its own (the
 * id of Heap's reference sample), which syncs and drains may not use.
 */
export const SAMPLE_SEGMENT: SegmentRef = { id: 1338065, name: 'Sample segment' };
const SAMPLE_USERS = 3;

type Delivery = { body: string; onDelivered?: () => void };

/**
 * Of a partner's answer the emulator keeps only a short excerpt (delivery.ts), so it reads no
 * more than a few KiB of it, however much the other end sends.
 */
const RESPONSE_READ_BYTES = 4096;

/**
 * Membership only advances for pages the partner app acknowledged with a 2xx. A page that runs out
 * of attempts ends its run: later pages are skipped (a simple rule of the emulator, not a claim
 * about Heap). The next run's delta is computed from what was acknowledged, so it carries the
 * missed changes again: the emulator never believes the partner knows something it was not told.
 */
export class RunManager {
  private readonly stopping = new AbortController();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: RunManagerDeps) {}

  /** Plans the delta, answers at once with the run, and delivers its pages in the background. */
  startSync(request: SyncRequest): RunStarted | RunRefusal {
    const refused = this.refuseStart(request.idToken, request.segmentId);
    if (refused) return refused;
    const { state } = this.deps;
    const current = state.segment(request.idToken, request.segmentId)?.membership;
    const delta = planDelta(current ?? emptyMembership(), request.change);
    if (!delta.ok) {
      return {
        ok: false,
        status: 400,
        error: 'invalid_field',
        field: delta.field,
        message: delta.message,
      };
    }
    const segment = state.ensureSegment(request.idToken, request.segmentId, request.segmentName);
    segment.membership = { ...segment.membership, nextUserNumber: delta.value.nextUserNumber };
    const pages = buildSyncPages({
      idToken: request.idToken,
      segment: segment.segment,
      syncTaskId: randomUUID(),
      add: delta.value.add,
      remove: delta.value.remove,
      pageSize: request.pageSize,
    });
    const run = this.newRun('sync', segment, pages[0].data.sync_info.sync_task_id, {
      add: delta.value.add.length,
      remove: delta.value.remove.length,
    });
    run.pages = pages.map((page) =>
      pageRecord(
        page.data.sync_info.page_number,
        page.data.add?.length ?? 0,
        page.data.remove?.length ?? 0,
      ),
    );
    const deliveries = pages.map((page) => ({
      body: JSON.stringify(page),
      onDelivered: () => {
        segment.membership = {
          ...segment.membership,
          members: applyDelivered(segment.membership.members, {
            add: (page.data.add ?? []).map((user) => user.id),
            remove: (page.data.remove ?? []).map((user) => user.id),
          }),
        };
      },
    }));
    this.startInBackground(run, segment, deliveries);
    return { ok: true, run };
  }

  /** Sends a drain in the background; the segment is empty once the partner acknowledged it. */
  startDrain(idToken: string | undefined, segmentId: number): RunStarted | RunRefusal {
    const refused = this.refuseStart(idToken, segmentId);
    if (refused) return refused;
    const segment = this.deps.state.ensureSegment(idToken, segmentId);
    const members = segment.membership.members.size;
    const run = this.newRun('drain', segment, null, { add: 0, remove: members });
    run.pages = [pageRecord(null, 0, members)];
    const body = JSON.stringify(buildDrain({ idToken, segment: segment.segment }));
    this.startInBackground(run, segment, [
      {
        body,
        onDelivered: () => {
          segment.membership = { ...segment.membership, members: new Set() };
        },
      },
    ]);
    return { ok: true, run };
  }

  /**
   * Like Heap's button: one signed page, one attempt, answered when done. It uses a segment of
   * its own and does not touch the emulator's memberships.
   */
  async sendSample(idToken: string | undefined): Promise<RunStarted | RunRefusal> {
    const refused = this.refuseStart(idToken, undefined);
    if (refused) return refused;
    const users = dummyUsers(SAMPLE_USERS, 'sample-user');
    const [page] = buildSyncPages({
      idToken,
      segment: SAMPLE_SEGMENT,
      syncTaskId: randomUUID(),
      add: users,
      remove: [],
      pageSize: SAMPLE_USERS,
    });
    const run: RunRecord = {
      ...this.runBase('sample', idToken, SAMPLE_SEGMENT, page.data.sync_info.sync_task_id),
      changes: { add: users.length, remove: 0 },
      pages: [pageRecord(1, users.length, 0)],
    };
    this.deps.state.addRun(run);
    await this.track(this.execute(run, [{ body: JSON.stringify(page) }], { maxAttempts: 1 }));
    return { ok: true, run };
  }

  /** Stops retrying, skips what is left, and resolves once every run has settled. */
  async close(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.inFlight]);
  }

  private refuseStart(
    idToken: string | undefined,
    segmentId: number | undefined,
  ): RunRefusal | undefined {
    if (this.stopping.signal.aborted) {
      return { ok: false, status: 503, error: 'stopping', message: 'The emulator is stopping.' };
    }
    if (idToken !== undefined && !this.deps.isConnected(idToken)) {
      return {
        ok: false,
        status: 400,
        error: 'unknown_id_token',
        field: 'id_token',
        message:
          'id_token is not one of the connections; authorize the partner app first, or omit id_token for your own environment.',
      };
    }
    if (segmentId !== undefined && this.deps.state.segment(idToken, segmentId)?.busy) {
      return {
        ok: false,
        status: 409,
        error: 'segment_busy',
        field: 'segment_id',
        message: `Segment ${segmentId} is still delivering a run; wait for it to finish.`,
      };
    }
    return undefined;
  }

  private runBase(
    kind: RunKind,
    idToken: string | undefined,
    segment: SegmentRef,
    syncTaskId: string | null,
  ): Omit<RunRecord, 'changes' | 'pages'> {
    return {
      id: randomUUID(),
      kind,
      state: 'running',
      idToken,
      segment,
      syncTaskId,
      webhookUrl: this.deps.state.webhookUrl,
      memberCount: null,
      startedAt: this.deps.now(),
      finishedAt: null,
      error: null,
    };
  }

  private newRun(
    kind: RunKind,
    segment: SegmentState,
    syncTaskId: string | null,
    changes: RunRecord['changes'],
  ): RunRecord {
    const run = {
      ...this.runBase(kind, segment.idToken, segment.segment, syncTaskId),
      changes,
      pages: [],
    };
    this.deps.state.addRun(run);
    return run;
  }

  private startInBackground(run: RunRecord, segment: SegmentState, deliveries: Delivery[]): void {
    segment.busy = true;
    const work = this.execute(run, deliveries, {})
      .catch((error: unknown) => {
        // Nothing in a delivery is meant to throw; if something does, the run says so.
        run.state = 'failed';
        run.error = `The emulator failed: ${(error as Error).message ?? String(error)}`;
        run.finishedAt = this.deps.now();
      })
      .finally(() => {
        segment.busy = false;
        run.memberCount = segment.membership.members.size;
      });
    void this.track(work);
  }

  private track(work: Promise<void>): Promise<void> {
    this.inFlight.add(work);
    return work.finally(() => this.inFlight.delete(work));
  }

  /** Delivers in page order, one page at a time; stops at the first page that is not accepted. */
  private async execute(
    run: RunRecord,
    deliveries: Delivery[],
    override: Partial<RetryPolicy>,
  ): Promise<void> {
    const policy = { ...this.deps.retry, ...override };
    for (const [index, delivery] of deliveries.entries()) {
      const page = run.pages[index];
      if (this.stopping.signal.aborted) {
        run.error = 'The emulator stopped before every page was delivered.';
        break;
      }
      page.state = 'delivering';
      const outcome = await deliverWithRetry({
        send: () =>
          sendSignedWebhook({
            url: run.webhookUrl,
            secret: this.deps.secret,
            body: delivery.body,
            timeoutMs: policy.timeoutMs,
            maxResponseBytes: RESPONSE_READ_BYTES,
          }),
        policy,
        random: this.deps.random,
        now: this.deps.now,
        wait: (ms) => abortableWait(ms, this.stopping.signal),
        onAttempt: (attempt) => page.attempts.push(attempt),
      });
      if (outcome.ok) {
        page.state = 'delivered';
        delivery.onDelivered?.();
        continue;
      }
      page.state = 'failed';
      run.error = outcome.stopped
        ? 'The emulator stopped before every page was delivered.'
        : `${page.pageNumber === null ? 'The drain' : `Page ${page.pageNumber}`} was not accepted after ${outcome.attempts.length} attempt(s).`;
      break;
    }
    for (const page of run.pages) if (page.state === 'pending') page.state = 'skipped';
    run.state = run.pages.every((page) => page.state === 'delivered') ? 'succeeded' : 'failed';
    run.finishedAt = this.deps.now();
  }
}

function pageRecord(pageNumber: number | null, add: number, remove: number): PageRecord {
  return { pageNumber, add, remove, state: 'pending', attempts: [] };
}
