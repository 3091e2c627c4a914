// Builds Heap-shaped webhook bodies (sync pages, drains) for the CLI, the emulator and tests.
import { SYNC_ACTION, DRAIN_ACTION } from './payload';

export type SegmentRef = { id: number; name: string };

export type SyncTaskPlan = {
  /** Omitted for the partner's own environment. */
  idToken?: string;
  segment: SegmentRef;
  syncTaskId: string;
  add: string[];
  remove: string[];
  /** Users per page (adds first, then removes, in order); at least 1. */
  pageSize: number;
  customerConfig?: unknown;
};

export type SyncPageBody = {
  id_token?: string;
  action_type: typeof SYNC_ACTION;
  customer_config?: unknown;
  data: {
    segment: SegmentRef;
    sync_info: { page_number: number; total_pages: number; sync_task_id: string };
    add?: { id: string }[];
    remove?: { id: string }[];
  };
};

export type DrainBody = {
  id_token?: string;
  action_type: typeof DRAIN_ACTION;
  customer_config?: unknown;
  data: { segment: SegmentRef };
};

/**
 * Splits one sync task into pages of at most `pageSize` users, as Heap does. A task with nothing
 * to send is still one (empty) page, so the receiver learns the task ran.
 */
export function buildSyncPages(plan: SyncTaskPlan): SyncPageBody[] {
  if (!Number.isInteger(plan.pageSize) || plan.pageSize < 1) {
    throw new RangeError('pageSize must be a whole number of at least 1');
  }
  const entries = [
    ...plan.add.map((id) => ({ id, op: 'add' as const })),
    ...plan.remove.map((id) => ({ id, op: 'remove' as const })),
  ];
  const totalPages = Math.max(1, Math.ceil(entries.length / plan.pageSize));
  const pages: SyncPageBody[] = [];
  for (let index = 0; index < totalPages; index++) {
    const slice = entries.slice(index * plan.pageSize, (index + 1) * plan.pageSize);
    const add = slice.filter((e) => e.op === 'add').map((e) => ({ id: e.id }));
    const remove = slice.filter((e) => e.op === 'remove').map((e) => ({ id: e.id }));
    pages.push({
      ...(plan.idToken === undefined ? {} : { id_token: plan.idToken }),
      action_type: SYNC_ACTION,
      ...(plan.customerConfig === undefined ? {} : { customer_config: plan.customerConfig }),
      data: {
        segment: plan.segment,
        sync_info: {
          page_number: index + 1,
          total_pages: totalPages,
          sync_task_id: plan.syncTaskId,
        },
        ...(add.length > 0 || remove.length === 0 ? { add } : {}),
        ...(remove.length > 0 ? { remove } : {}),
      },
    });
  }
  return pages;
}

export function buildDrain(options: {
  idToken?: string;
  segment: SegmentRef;
  customerConfig?: unknown;
}): DrainBody {
  return {
    ...(options.idToken === undefined ? {} : { id_token: options.idToken }),
    action_type: DRAIN_ACTION,
    ...(options.customerConfig === undefined ? {} : { customer_config: options.customerConfig }),
    data: { segment: options.segment },
  };
}

/** `count` distinct, readable dummy user ids: user-1@example.com … */
export function dummyUsers(count: number, prefix = 'user'): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}-${index + 1}@example.com`);
}
