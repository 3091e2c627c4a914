-- 005: the admin audit log (sign-in and its failures, sign-out, disconnect, token-key rotation,
-- retention runs), and indexes that make "when did each segment last complete a sync" an index
-- probe per segment instead of a scan of every sync task. No row ever holds a credential: the
-- client address, a fixed reason phrase and counts only. `minute` is set only on rows that count
-- many refused sign-ins of one minute (one row per minute and reason, however many attempts).
-- IF NOT EXISTS: re-applying it to a file whose version was wound back changes nothing.
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  event TEXT NOT NULL,
  client TEXT,
  tenant TEXT,
  detail TEXT,
  count INTEGER NOT NULL DEFAULT 1,
  minute INTEGER
);
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (at);
CREATE UNIQUE INDEX IF NOT EXISTS audit_log_counted ON audit_log (event, minute, detail) WHERE minute IS NOT NULL;
CREATE INDEX IF NOT EXISTS sync_tasks_by_completion ON sync_tasks (tenant, segment_id, completed_at);
CREATE INDEX IF NOT EXISTS sync_tasks_by_segment_delivery ON sync_tasks (tenant, segment_id, last_delivery_at);
