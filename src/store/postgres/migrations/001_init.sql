-- 001: the PostgreSQL schema, the same tables and meaning as the SQLite store (src/store/sqlite.ts).
-- Times are unix milliseconds (bigint), as in SQLite. Identifiers use COLLATE "C" so ordering and
-- keyset paging are byte order, exactly like SQLite, whatever the database's default collation.

CREATE TABLE segments (
  sid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant text COLLATE "C" NOT NULL,
  segment_id bigint NOT NULL,
  name text,
  customer_config json,
  member_count bigint NOT NULL DEFAULT 0,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  last_sync_at bigint,
  last_drain_at bigint,
  UNIQUE (tenant, segment_id)
);

CREATE TABLE members (
  sid bigint NOT NULL,
  user_id text COLLATE "C" NOT NULL,
  added_at bigint NOT NULL,
  PRIMARY KEY (sid, user_id)
);
-- segmentsOfUser: the partner's hot-path lookup by user id.
CREATE INDEX members_by_user ON members (user_id, sid);

CREATE TABLE sync_tasks (
  tenant text COLLATE "C" NOT NULL,
  segment_id bigint NOT NULL,
  task_id text COLLATE "C" NOT NULL,
  total_pages bigint NOT NULL,
  pages_received bigint NOT NULL,
  first_delivery_at bigint NOT NULL,
  last_delivery_at bigint NOT NULL,
  completed_at bigint,
  PRIMARY KEY (tenant, segment_id, task_id)
);

-- The page claim: its primary key is what makes a page apply once, across every instance.
CREATE TABLE sync_pages (
  tenant text COLLATE "C" NOT NULL,
  segment_id bigint NOT NULL,
  task_id text COLLATE "C" NOT NULL,
  page_number bigint NOT NULL,
  body_sha256 text,
  received_at bigint NOT NULL,
  PRIMARY KEY (tenant, segment_id, task_id, page_number)
);

-- The replay key table: an exact replay of an accepted signed request is a duplicate.
CREATE TABLE accepted_signatures (
  signature_key text COLLATE "C" PRIMARY KEY,
  received_at bigint NOT NULL
);

CREATE TABLE deliveries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  received_at bigint NOT NULL,
  path text NOT NULL,
  action_type text COLLATE "C",
  tenant text COLLATE "C",
  segment_id bigint,
  task_id text COLLATE "C",
  page_number bigint,
  status text COLLATE "C" NOT NULL,
  http_status integer NOT NULL,
  reason text COLLATE "C",
  body_sha256 text,
  added bigint NOT NULL DEFAULT 0,
  removed bigint NOT NULL DEFAULT 0,
  linked boolean
);
CREATE INDEX deliveries_by_time ON deliveries (received_at);

CREATE TABLE connections (
  id_token text COLLATE "C" PRIMARY KEY,
  env_id text NOT NULL,
  partner_app_id text NOT NULL,
  authorized_by text NOT NULL,
  authorized_scope text NOT NULL,
  authorized_at_utc text NOT NULL,
  access_token_sealed text,
  connected_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  disconnected_at bigint
);

CREATE TABLE oauth_states (
  state_hash text COLLATE "C" PRIMARY KEY,
  expires_at bigint NOT NULL
);

-- The change feed. seq is not a sequence: it comes from change_feed_head, a single row every
-- applying transaction updates right before it inserts its change and commits. The row lock
-- serialises those tails, so seq values become visible in order and without gaps: a reader that
-- has seen seq n can never later find a smaller one appear (see README, "Running in production").
CREATE TABLE changes (
  seq bigint PRIMARY KEY,
  at bigint NOT NULL,
  tenant text COLLATE "C" NOT NULL,
  segment_id bigint NOT NULL,
  kind text NOT NULL CHECK (kind IN ('sync', 'drain')),
  task_id text,
  page_number bigint,
  added text[] NOT NULL,
  removed text[] NOT NULL,
  removed_count bigint NOT NULL,
  member_count bigint NOT NULL
);
CREATE INDEX changes_by_segment ON changes (tenant, segment_id, seq);

CREATE TABLE change_feed_head (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last_seq bigint NOT NULL
);
INSERT INTO change_feed_head (singleton, last_seq) VALUES (true, 0);
