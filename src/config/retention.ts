// The retention job's settings (src/store/retention.ts): how many days each growing table keeps.
import { integer, type Environment } from './env';

/** Ages in days, 0 = keep forever. */
export type RetentionConfig = {
  deliveriesDays: number;
  syncTasksDays: number;
  changesDays: number;
  /** The admin audit log (AUDIT_RETENTION_DAYS). */
  auditDays: number;
  intervalMinutes: number;
};

export function retentionSettings(env: Environment, problems: string[]): RetentionConfig {
  return {
    deliveriesDays: integer(env, 'DELIVERIES_RETENTION_DAYS', 30, 0, 36_500, problems),
    syncTasksDays: integer(env, 'SYNC_TASK_RETENTION_DAYS', 30, 0, 36_500, problems),
    changesDays: integer(env, 'CHANGES_RETENTION_DAYS', 90, 0, 36_500, problems),
    auditDays: integer(env, 'AUDIT_RETENTION_DAYS', 365, 0, 36_500, problems),
    intervalMinutes: integer(env, 'RETENTION_INTERVAL_MINUTES', 10, 1, 10_080, problems),
  };
}
