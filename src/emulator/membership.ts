// Heap's side of a segment: who is in it, and which adds and removes move it to the next state.
import { dummyUsers } from '../webhook/outgoing';
import { fieldError, type Checked } from './validation';

export type Membership = {
  /** Current members, oldest first. */
  members: ReadonlySet<string>;
  /** The next dummy user number never handed out, so joiners are always new people. */
  nextUserNumber: number;
};

/** What a sync run asks for: a membership of users 1..N, some churn, or nothing new. */
export type MembershipChange =
  | { kind: 'target'; users: number }
  | { kind: 'churn'; add: number; remove: number }
  | { kind: 'none' };

export type Delta = { add: string[]; remove: string[]; nextUserNumber: number };

export function emptyMembership(): Membership {
  return { members: new Set(), nextUserNumber: 1 };
}

/** The users a run must send to go from `current` to what `change` asks for. */
export function planDelta(current: Membership, change: MembershipChange): Checked<Delta> {
  switch (change.kind) {
    case 'none':
      return { ok: true, value: { add: [], remove: [], nextUserNumber: current.nextUserNumber } };
    case 'target': {
      const wanted = dummyUsers(change.users);
      const wantedSet = new Set(wanted);
      return {
        ok: true,
        value: {
          add: wanted.filter((id) => !current.members.has(id)),
          remove: [...current.members].filter((id) => !wantedSet.has(id)),
          nextUserNumber: Math.max(current.nextUserNumber, change.users + 1),
        },
      };
    }
    case 'churn': {
      if (change.remove > current.members.size) {
        return fieldError(
          'churn.remove',
          `churn.remove is ${change.remove} but the segment has ${current.members.size} members.`,
        );
      }
      // The longest-standing members leave: deterministic, so a person can predict the result.
      const remove = [...current.members].slice(0, change.remove);
      const first = current.nextUserNumber;
      const add = dummyUsers(first + change.add - 1).slice(first - 1);
      return { ok: true, value: { add, remove, nextUserNumber: first + change.add } };
    }
  }
}

/** Members once the partner app acknowledged a page: removes first, then adds. */
export function applyDelivered(
  members: ReadonlySet<string>,
  delivered: { add: readonly string[]; remove: readonly string[] },
): Set<string> {
  const next = new Set(members);
  for (const id of delivered.remove) next.delete(id);
  for (const id of delivered.add) next.add(id);
  return next;
}
