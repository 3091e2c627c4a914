// The route handler example's own data (stands for your database): audience members, written once per Heap page.
import type { DrainDelivery, SyncDelivery } from 'heap-partner-api';

const OWN_ENVIRONMENT = 'own-environment';

class Audiences {
  private readonly members = new Map<string, Set<string>>();
  /** Page keys already applied: Heap retries, so the same page can arrive twice. */
  private readonly appliedPages = new Set<string>();

  /**
   * One sync page. With a database: one transaction that inserts the page key into a table with
   * a unique key and writes the members; a duplicate key means "already done", so commit nothing.
   */
  async applyPage(delivery: SyncDelivery): Promise<'applied' | 'duplicate'> {
    const environment = delivery.idToken ?? OWN_ENVIRONMENT;
    const { syncTaskId, pageNumber } = delivery.syncInfo;
    const pageKey = JSON.stringify([environment, delivery.segment.id, syncTaskId, pageNumber]);
    if (this.appliedPages.has(pageKey)) return 'duplicate';
    const members = this.segment(environment, delivery.segment.id);
    for (const userId of delivery.add) members.add(userId);
    for (const userId of delivery.remove) members.delete(userId);
    this.appliedPages.add(pageKey);
    return 'applied';
  }

  async drain(delivery: DrainDelivery): Promise<void> {
    this.members.delete(this.key(delivery.idToken ?? OWN_ENVIRONMENT, delivery.segment.id));
  }

  /** The members of a segment, sorted (for pages and tests). */
  list(idToken: string | undefined, segmentId: number): string[] {
    return [...(this.members.get(this.key(idToken ?? OWN_ENVIRONMENT, segmentId)) ?? [])].sort();
  }

  private segment(environment: string, segmentId: number): Set<string> {
    const key = this.key(environment, segmentId);
    let members = this.members.get(key);
    if (!members) this.members.set(key, (members = new Set()));
    return members;
  }

  private key(environment: string, segmentId: number): string {
    return `${environment}/${segmentId}`;
  }
}

export const audiences = new Audiences();
