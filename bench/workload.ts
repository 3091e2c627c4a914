// Deterministic bench pages: page i of a workload is the same bytes in every process, and unique.
import { createHash } from 'node:crypto';
import { parseWebhookBody } from '../src/webhook/payload';
import { toAcceptedDelivery } from '../src/webhook/apply';
import { signHeapHash } from '../src/webhook/signature';
import type { AcceptedDelivery } from '../src/store/types';
import { buildSyncPage } from '../src/webhook/outgoing';
import { emailId } from './ids';

/** The customer environment every bench delivery belongs to. */
export const BENCH_ID_TOKEN = 'bench-environment';

/**
 * A stream of sync pages. Page i belongs to task floor(i / pagesPerTask) on segment
 * (task % segments). With `churn`, half a page's users are new and the other half are the users
 * page i - lag added (same segment, `lagTasks` tasks earlier), so removes really delete members
 * and a segment's size stays steady, as with Heap's periodic deltas. Without it, every user is new.
 */
export type Workload = {
  name: string;
  usersPerPage: number;
  pagesPerTask: number;
  segments: number;
  churn: boolean;
  lagTasks: number;
  /** Keeps the task and segment ids of different workloads apart (and seeds the random ids). */
  segmentBase: number;
  /**
   * 'random': e-mail-like ids spread over the key space (bench/ids.ts), as customers' identities
   * are; 'sequential': `u<n>.<name>@bench.example`, every insert at the right-hand end of the
   * indexes (flattering, kept as a labelled scenario for comparison).
   */
  ids: 'random' | 'sequential';
};

function addsPerPage(workload: Workload): number {
  return workload.churn ? Math.ceil(workload.usersPerPage / 2) : workload.usersPerPage;
}

function usersAddedBy(workload: Workload, index: number): string[] {
  const count = addsPerPage(workload);
  const first = index * count;
  return Array.from({ length: count }, (_, k) =>
    workload.ids === 'random'
      ? emailId(workload.segmentBase, 0, first + k)
      : `u${first + k}.${workload.name}@bench.example`,
  );
}

/** Users removed before the lag has passed: nobody's members yet (namespace 1: never added). */
function stranger(workload: Workload, index: number, k: number, removes: number): string {
  return workload.ids === 'random'
    ? emailId(workload.segmentBase, 1, index * removes + k)
    : `gone${index}-${k}@bench.example`;
}

/** The JSON body of page `index`, exactly as Heap would send it. */
export function pageBody(workload: Workload, index: number): Buffer {
  const task = Math.floor(index / workload.pagesPerTask);
  const lag = workload.segments * workload.pagesPerTask * workload.lagTasks;
  const add = usersAddedBy(workload, index);
  const removes = workload.usersPerPage - add.length;
  const remove =
    removes === 0
      ? []
      : index >= lag
        ? usersAddedBy(workload, index - lag).slice(0, removes)
        : Array.from({ length: removes }, (_, k) => stranger(workload, index, k, removes));
  const segmentId = workload.segmentBase + (task % workload.segments);
  return Buffer.from(
    JSON.stringify(
      buildSyncPage({
        idToken: BENCH_ID_TOKEN,
        segment: { id: segmentId, name: `Bench ${workload.name} ${segmentId}` },
        syncTaskId: `${workload.name}-task-${task}`,
        pageNumber: (index % workload.pagesPerTask) + 1,
        totalPages: workload.pagesPerTask,
        add,
        remove,
        customerConfig: { matching_property: 'email' },
      }),
    ),
  );
}

export type SignedPage = { body: Buffer; heapHash: string };

/** Signs now: the server refuses signatures older than its tolerance (300 s by default). */
export function signedPage(workload: Workload, index: number, secret: string): SignedPage {
  const body = pageBody(workload, index);
  return { body, heapHash: signHeapHash(secret, body) };
}

/**
 * What the server's store receives for a body: parsed and validated exactly as the webhook route
 * does, with a unique replay key (each page is a distinct signed request).
 */
export function acceptedDelivery(body: Buffer, replaySeed: string): AcceptedDelivery {
  const parsed = parseWebhookBody(body);
  if (!parsed.ok) throw new Error(`bench page ${replaySeed} is invalid: ${parsed.message}`);
  return toAcceptedDelivery(
    parsed.delivery,
    {
      receivedAt: Date.now(),
      path: '/webhook',
      bodySha256: createHash('sha256').update(body).digest('hex'),
    },
    createHash('sha256').update(replaySeed).digest('hex'),
  );
}

export function acceptedPage(workload: Workload, index: number): AcceptedDelivery {
  return acceptedDelivery(pageBody(workload, index), `${workload.name}:${index}`);
}

/**
 * The lookup scenario's store: `segments` segments of `membersPerSegment` members drawn from
 * `users` distinct users, each user in the same number of segments (segment s holds users
 * s·stride … s·stride + membersPerSegment − 1, modulo `users`).
 */
export type LookupPopulation = {
  segments: number;
  membersPerSegment: number;
  users: number;
  pageSize: number;
};

const LOOKUP_SEGMENT_BASE = 900_000;

export function lookupUserId(n: number): string {
  return `member${n}@bench.example`;
}

/**
 * The users the floors look up, one a query: the same pseudo-random sequence (fixed seed) for
 * floors B, C and P, so their runs ask for the same users.
 */
export function lookupUsers(population: LookupPopulation, queries: number): string[] {
  let seed = 42;
  return Array.from({ length: queries }, () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return lookupUserId(Math.floor((seed / 2 ** 31) * population.users));
  });
}

export function populationPages(population: LookupPopulation): number {
  return population.segments * Math.ceil(population.membersPerSegment / population.pageSize);
}

export function populationPage(population: LookupPopulation, index: number): AcceptedDelivery {
  const pagesPerSegment = Math.ceil(population.membersPerSegment / population.pageSize);
  const segment = Math.floor(index / pagesPerSegment);
  const page = index % pagesPerSegment;
  const stride = Math.floor(population.users / population.segments);
  const first = page * population.pageSize;
  const count = Math.min(population.pageSize, population.membersPerSegment - first);
  const add = Array.from({ length: count }, (_, k) =>
    lookupUserId((segment * stride + first + k) % population.users),
  );
  const segmentId = LOOKUP_SEGMENT_BASE + segment;
  const body = buildSyncPage({
    idToken: BENCH_ID_TOKEN,
    segment: { id: segmentId, name: `Lookup ${segmentId}` },
    syncTaskId: `lookup-${segment}`,
    pageNumber: page + 1,
    totalPages: pagesPerSegment,
    add,
    remove: [],
  });
  return acceptedDelivery(Buffer.from(JSON.stringify(body)), `lookup:${index}`);
}
