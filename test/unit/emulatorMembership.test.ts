// Unit tests for the emulator's membership deltas: target sizes, churn, and what a delivery applies.
import {
  applyDelivered,
  emptyMembership,
  planDelta,
  type Membership,
} from '../../src/emulator/membership';
import { dummyUsers } from '../../src/webhook/outgoing';

const members = (ids: string[], nextUserNumber: number): Membership => ({
  members: new Set(ids),
  nextUserNumber,
});

describe('planDelta', () => {
  it('adds users 1..N to an empty segment', () => {
    const delta = planDelta(emptyMembership(), { kind: 'target', users: 3 });
    expect(delta).toEqual({
      ok: true,
      value: { add: dummyUsers(3), remove: [], nextUserNumber: 4 },
    });
  });

  it('moves to a new target size with only the difference', () => {
    const current = members(dummyUsers(5), 6);
    expect(planDelta(current, { kind: 'target', users: 3 })).toEqual({
      ok: true,
      value: { add: [], remove: ['user-4@example.com', 'user-5@example.com'], nextUserNumber: 6 },
    });
    expect(planDelta(current, { kind: 'target', users: 7 })).toEqual({
      ok: true,
      value: { add: ['user-6@example.com', 'user-7@example.com'], remove: [], nextUserNumber: 8 },
    });
  });

  it('removes users a churn brought in when the target is 1..N again', () => {
    const current = members([...dummyUsers(3).slice(1), 'user-9@example.com'], 10);
    const delta = planDelta(current, { kind: 'target', users: 3 });
    expect(delta).toEqual({
      ok: true,
      value: { add: ['user-1@example.com'], remove: ['user-9@example.com'], nextUserNumber: 10 },
    });
  });

  it('churn: the longest-standing members leave and never-seen users join', () => {
    const current = members(['user-3@example.com', 'user-1@example.com', 'user-2@example.com'], 4);
    expect(planDelta(current, { kind: 'churn', add: 2, remove: 2 })).toEqual({
      ok: true,
      value: {
        add: ['user-4@example.com', 'user-5@example.com'],
        remove: ['user-3@example.com', 'user-1@example.com'],
        nextUserNumber: 6,
      },
    });
  });

  it('refuses to remove more members than the segment has, naming the field', () => {
    expect(planDelta(members(dummyUsers(2), 3), { kind: 'churn', add: 0, remove: 3 })).toEqual({
      ok: false,
      field: 'churn.remove',
      message: expect.stringContaining('2 members'),
    });
  });

  it('plans nothing when nothing changed', () => {
    expect(planDelta(members(dummyUsers(2), 3), { kind: 'none' })).toEqual({
      ok: true,
      value: { add: [], remove: [], nextUserNumber: 3 },
    });
  });
});

describe('applyDelivered', () => {
  it('applies removes and adds without changing the input', () => {
    const before = new Set(['a', 'b']);
    const after = applyDelivered(before, { add: ['c'], remove: ['a'] });
    expect([...after]).toEqual(['b', 'c']);
    expect([...before]).toEqual(['a', 'b']);
  });
});
