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

/** One sync page as Heap sends it; `add` is omitted when only removes are sent, as Heap does. */
export function buildSyncPage(page: {
  idToken?: string;
  segment: SegmentRef;
  syncTaskId: string;
  pageNumber: number;
  totalPages: number;
  add: string[];
  remove: string[];
  customerConfig?: unknown;
}): SyncPageBody {
  return {
    ...(page.idToken === undefined ? {} : { id_token: page.idToken }),
    action_type: SYNC_ACTION,
    ...(page.customerConfig === undefined ? {} : { customer_config: page.customerConfig }),
    data: {
      segment: page.segment,
      sync_info: {
        page_number: page.pageNumber,
        total_pages: page.totalPages,
        sync_task_id: page.syncTaskId,
      },
      ...(page.add.length > 0 || page.remove.length === 0
        ? { add: page.add.map((id) => ({ id })) }
        : {}),
      ...(page.remove.length > 0 ? { remove: page.remove.map((id) => ({ id })) } : {}),
    },
  };
}

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
    pages.push(
      buildSyncPage({
        ...plan,
        pageNumber: index + 1,
        totalPages,
        add: slice.filter((e) => e.op === 'add').map((e) => e.id),
        remove: slice.filter((e) => e.op === 'remove').map((e) => e.id),
      }),
    );
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
