// The shared webhook body budget: reservations fit or are refused whole, and each is released exactly once.
import { WebhookBodyBudget } from '../../src/webhook/bodyBudget';

describe('WebhookBodyBudget', () => {
  it('grants reservations while they fit and refuses one that does not, taking nothing', () => {
    const budget = new WebhookBodyBudget(100);
    const a = budget.reserve();
    const b = budget.reserve();
    expect(a.add(60)).toBe(true);
    expect(b.add(50)).toBe(false);
    expect(b.bytes).toBe(0);
    expect(b.add(40)).toBe(true);
    expect(budget.inUseBytes).toBe(100);
    expect(a.add(1)).toBe(false);
    expect(a.bytes).toBe(60);
  });

  it('gives every byte back on release, once, and refuses to grow a released reservation', () => {
    const budget = new WebhookBodyBudget(100);
    const a = budget.reserve();
    const b = budget.reserve();
    a.add(30);
    a.add(30);
    b.add(10);
    a.release();
    a.release();
    expect(budget.inUseBytes).toBe(10);
    expect(a.add(5)).toBe(false);
    expect(budget.inUseBytes).toBe(10);
    b.release();
    expect(budget.inUseBytes).toBe(0);
  });
});
