// What the emulated Developers Hub remembers: the webhook target, each segment's membership, the runs.
import type { SegmentRef } from '../webhook/outgoing';
import type { Attempt } from './delivery';
import { emptyMembership, type Membership } from './membership';

export type SegmentState = {
  /** Undefined for the partner's own environment. */
  idToken: string | undefined;
  segment: SegmentRef;
  /** Only what the partner app acknowledged; see RunManager for why. */
  membership: Membership;
  /** A sync or drain is delivering; runs of one segment never overlap, as at Heap. */
  busy: boolean;
};

export type RunKind = 'sync' | 'drain' | 'sample';
export type RunState = 'running' | 'succeeded' | 'failed';
export type PageState = 'pending' | 'delivering' | 'delivered' | 'failed' | 'skipped';

/** One request of a run (a sync page, or the drain) and every attempt to deliver it. */
export type PageRecord = {
  /** Null for a drain, which has no pages. */
  pageNumber: number | null;
  add: number;
  remove: number;
  state: PageState;
  attempts: Attempt[];
};

export type RunRecord = {
  id: string;
  kind: RunKind;
  state: RunState;
  idToken: string | undefined;
  segment: SegmentRef;
  syncTaskId: string | null;
  /** The target when the run started; changing the webhook URL does not move a running run. */
  webhookUrl: string;
  changes: { add: number; remove: number };
  /** The emulator's member count once the run finished (null for the sample). */
  memberCount: number | null;
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
  pages: PageRecord[];
};

/** Old finished runs are forgotten beyond this many, so a long session does not grow forever. */
const MAX_RUNS = 200;

export class HubState {
  private readonly segments = new Map<string, SegmentState>();
  private readonly runs: RunRecord[] = [];

  constructor(public webhookUrl: string) {}

  segment(idToken: string | undefined, segmentId: number): SegmentState | undefined {
    return this.segments.get(segmentKey(idToken, segmentId));
  }

  /** The segment's state, created empty on first use; a given name replaces the old one. */
  ensureSegment(idToken: string | undefined, segmentId: number, name?: string): SegmentState {
    const key = segmentKey(idToken, segmentId);
    let state = this.segments.get(key);
    if (!state) {
      state = {
        idToken,
        segment: { id: segmentId, name: name ?? `Segment ${segmentId}` },
        membership: emptyMembership(),
        busy: false,
      };
      this.segments.set(key, state);
    } else if (name !== undefined) {
      state.segment = { id: segmentId, name };
    }
    return state;
  }

  listSegments(): SegmentState[] {
    return [...this.segments.values()];
  }

  addRun(run: RunRecord): void {
    this.runs.push(run);
    while (this.runs.length > MAX_RUNS) {
      const oldestFinished = this.runs.findIndex((candidate) => candidate.state !== 'running');
      if (oldestFinished < 0) break;
      this.runs.splice(oldestFinished, 1);
    }
  }

  run(id: string): RunRecord | undefined {
    return this.runs.find((run) => run.id === id);
  }

  /** Newest first. */
  listRuns(): RunRecord[] {
    return [...this.runs].reverse();
  }
}

function segmentKey(idToken: string | undefined, segmentId: number): string {
  return JSON.stringify([idToken ?? null, segmentId]);
}
