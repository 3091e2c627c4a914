-- 002: retention and counted refusals (issue 10). Indexes the retention job deletes by, so each
-- of its bounded batches is a short index range rather than a scan, and the per-minute counters
-- that replace one deliveries row per request refused before its signature verified.

CREATE TABLE refusal_counts (
  minute bigint NOT NULL,
  reason text COLLATE "C" NOT NULL,
  http_status integer NOT NULL,
  count bigint NOT NULL,
  PRIMARY KEY (minute, reason, http_status)
);

CREATE INDEX accepted_signatures_by_time ON accepted_signatures (received_at);
CREATE INDEX oauth_states_by_expiry ON oauth_states (expires_at);
CREATE INDEX sync_tasks_by_last_delivery ON sync_tasks (last_delivery_at);
