-- Retention and counted refusals: indexes the retention job deletes by (so each batch is a short
-- range read, not a scan) and the per-minute refusal counters.
CREATE TABLE refusal_counts (
  minute INTEGER NOT NULL,
  reason TEXT NOT NULL,
  http_status INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (minute, reason, http_status)
) WITHOUT ROWID;
CREATE INDEX accepted_signatures_by_time ON accepted_signatures (received_at);
CREATE INDEX oauth_states_by_expiry ON oauth_states (expires_at);
CREATE INDEX sync_tasks_by_last_delivery ON sync_tasks (last_delivery_at);
