-- The first schema (version 1). IF NOT EXISTS throughout: files written before versioned
-- migrations may hold these tables already.
CREATE TABLE IF NOT EXISTS segments (
  sid INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL,
  segment_id INTEGER NOT NULL,
  name TEXT,
  customer_config TEXT,
  member_count INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_sync_at INTEGER,
  last_drain_at INTEGER,
  UNIQUE (tenant, segment_id)
);
CREATE TABLE IF NOT EXISTS members (
  sid INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  added_at INTEGER NOT NULL,
  PRIMARY KEY (sid, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_by_user ON members (user_id, sid);
CREATE TABLE IF NOT EXISTS sync_tasks (
  tenant TEXT NOT NULL,
  segment_id INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  total_pages INTEGER NOT NULL,
  pages_received INTEGER NOT NULL,
  first_delivery_at INTEGER NOT NULL,
  last_delivery_at INTEGER NOT NULL,
  completed_at INTEGER,
  PRIMARY KEY (tenant, segment_id, task_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sync_pages (
  tenant TEXT NOT NULL,
  segment_id INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  page_number INTEGER NOT NULL,
  body_sha256 TEXT,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (tenant, segment_id, task_id, page_number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS accepted_signatures (
  signature_key TEXT PRIMARY KEY,
  received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  received_at INTEGER NOT NULL,
  path TEXT NOT NULL,
  action_type TEXT,
  tenant TEXT,
  segment_id INTEGER,
  task_id TEXT,
  page_number INTEGER,
  status TEXT NOT NULL,
  http_status INTEGER NOT NULL,
  reason TEXT,
  body_sha256 TEXT,
  added INTEGER NOT NULL DEFAULT 0,
  removed INTEGER NOT NULL DEFAULT 0,
  linked INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_by_time ON deliveries (received_at);
CREATE TABLE IF NOT EXISTS connections (
  id_token TEXT PRIMARY KEY,
  env_id TEXT NOT NULL,
  partner_app_id TEXT NOT NULL,
  authorized_by TEXT NOT NULL,
  authorized_scope TEXT NOT NULL,
  authorized_at_utc TEXT NOT NULL,
  access_token_sealed TEXT,
  connected_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  disconnected_at INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS oauth_states (
  state_hash TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  tenant TEXT NOT NULL,
  segment_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  task_id TEXT,
  page_number INTEGER,
  added TEXT NOT NULL,
  removed TEXT NOT NULL,
  removed_count INTEGER NOT NULL,
  member_count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_by_segment ON changes (tenant, segment_id, seq);
