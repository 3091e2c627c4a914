-- 005: integer user keys. Members were keyed by (sid, user_id text) with a (user_id, sid) index, so
-- every membership of a random (e-mail-like) id dirtied two randomly placed text-keyed B-tree pages.
-- Now a user dictionary gives each (tenant, user id) an integer key in increasing order, members are
-- (sid, uk) with a (uk, sid) index: new users append, entries are a few bytes, and the text id is
-- stored once a user (not once a membership, twice). Dictionary rows live as long as the user has a
-- membership (the store deletes a row when the user's last membership goes), and `tenants.users`
-- counts them so member paging can pick its plan (src/store/sqlite/store.ts, listMembers).
--
-- The runner (../migrations.ts) copies big files in batches before this file runs, keeping its
-- place in migration_005; this file copies whatever is left (everything, for a small file or a
-- runner without that step) and swaps the tables, in the version bump's transaction.
CREATE TABLE IF NOT EXISTS tenants (
  tk INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL UNIQUE,
  users INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS users (
  uk INTEGER PRIMARY KEY,
  tk INTEGER NOT NULL,
  user_id TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS users_by_id ON users (tk, user_id);
CREATE TABLE IF NOT EXISTS members_v5 (
  sid INTEGER NOT NULL,
  uk INTEGER NOT NULL,
  added_at INTEGER NOT NULL,
  PRIMARY KEY (sid, uk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS migration_005 (sid INTEGER NOT NULL, user_id TEXT NOT NULL);
INSERT OR IGNORE INTO tenants (tenant) SELECT DISTINCT tenant FROM segments;
-- copy: the runner runs what is above this line before its batches.
INSERT OR IGNORE INTO users (tk, user_id)
  SELECT t.tk, m.user_id FROM members m JOIN segments s ON s.sid = m.sid
    JOIN tenants t ON t.tenant = s.tenant
  WHERE (m.sid, m.user_id) > (SELECT coalesce(max(sid), -1), coalesce(max(user_id), '') FROM migration_005)
  ORDER BY m.sid, m.user_id;
INSERT OR IGNORE INTO members_v5 (sid, uk, added_at)
  SELECT m.sid, u.uk, m.added_at FROM members m JOIN segments s ON s.sid = m.sid
    JOIN tenants t ON t.tenant = s.tenant JOIN users u ON u.tk = t.tk AND u.user_id = m.user_id
  WHERE (m.sid, m.user_id) > (SELECT coalesce(max(sid), -1), coalesce(max(user_id), '') FROM migration_005)
  ORDER BY m.sid, m.user_id;
DROP TABLE members;
ALTER TABLE members_v5 RENAME TO members;
CREATE INDEX members_by_user ON members (uk, sid);
UPDATE tenants SET users = (SELECT count(*) FROM users WHERE users.tk = tenants.tk);
DROP TABLE migration_005;
