-- 007: memberships keyed user first. Since 005 the members table was keyed (sid, uk) with
-- added_at, and a (uk, sid) index served user → segments: a lookup found the user's segments in
-- the index, then paid one more random B-tree descent into the table per segment, for added_at
-- alone. Now the table is keyed (uk, sid) and holds added_at, so a lookup reads one key range;
-- the (sid, uk) index serves member paging, membership probes, removes and drains. The two
-- B-trees hold the same entries as before (only which one carries added_at changed), so a
-- membership costs about the same bytes.
--
-- One transaction (the runner's, with the version bump): a crash or a kill leaves the 005 layout
-- and the next start copies again. It rewrites every membership once.
CREATE TABLE members_v7 (
  uk INTEGER NOT NULL,
  sid INTEGER NOT NULL,
  added_at INTEGER NOT NULL,
  PRIMARY KEY (uk, sid)
) WITHOUT ROWID;
INSERT INTO members_v7 (uk, sid, added_at)
  SELECT uk, sid, added_at FROM members ORDER BY uk, sid;
DROP TABLE members;
ALTER TABLE members_v7 RENAME TO members;
CREATE INDEX members_by_segment ON members (sid, uk);
