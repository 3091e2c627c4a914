-- 005: the admin audit log (sign-in and its failures, sign-out, disconnect, token-key rotation,
-- retention runs), and indexes that make "when did each segment last complete a sync" an index
-- probe per segment instead of a scan of every sync task. No row ever holds a credential: the
-- client address, a fixed reason phrase and counts only. `minute` is set only on rows that count
-- many refused sign-ins of one minute (one row per minute and reason, however many attempts).

CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  at bigint NOT NULL,
  event text COLLATE "C" NOT NULL,
  client text,
  tenant text COLLATE "C",
  detail text COLLATE "C",
  count bigint NOT NULL DEFAULT 1,
  minute bigint
);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE UNIQUE INDEX audit_log_counted ON audit_log (event, minute, detail) WHERE minute IS NOT NULL;
CREATE INDEX sync_tasks_by_completion ON sync_tasks (tenant, segment_id, completed_at);
CREATE INDEX sync_tasks_by_segment_delivery ON sync_tasks (tenant, segment_id, last_delivery_at);
