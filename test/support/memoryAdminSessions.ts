// An in-memory AdminSessionStore for unit tests of AdminAccess (the real ones are in the Store contract).
import type { AdminSessionStore } from '../../src/admin/access';
import type { AdminSessionRecord } from '../../src/store/types';

export class MemoryAdminSessions implements AdminSessionStore {
  readonly rows = new Map<string, AdminSessionRecord>();
  /** How many times last_seen_at was written (the touch interval keeps this low). */
  touches = 0;

  async createAdminSession(idHash: string, createdAt: number, expiresAt: number): Promise<void> {
    this.rows.set(idHash, { createdAt, lastSeenAt: createdAt, expiresAt, revokedAt: null });
  }

  async getAdminSession(idHash: string): Promise<AdminSessionRecord | undefined> {
    const row = this.rows.get(idHash);
    return row && { ...row };
  }

  async touchAdminSession(idHash: string, at: number): Promise<void> {
    const row = this.rows.get(idHash);
    this.touches += 1;
    if (row && row.lastSeenAt < at) row.lastSeenAt = at;
  }

  async revokeAdminSession(idHash: string, at: number): Promise<boolean> {
    const row = this.rows.get(idHash);
    if (!row || row.revokedAt !== null || row.expiresAt <= at) return false;
    row.revokedAt = at;
    return true;
  }
}
