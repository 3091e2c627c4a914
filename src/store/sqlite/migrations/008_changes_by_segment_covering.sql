-- 008: the change feed's per-segment index also carries each change's time and the segment's
-- size after it, so a segment's size history (admin API, dashboard chart) reads the index alone.
-- Before, it read every change's table row for those two columns: a row holds the change's user
-- lists, about one 4 KiB page each, so walking a segment with 5,000 changes read 5,000 pages,
-- 34 ms on the reader (measured on a 350,000-change, 1.4 GB feed), and the walk grows with the
-- feed. Reads run on the server's event loop, so every lookup waiting behind it waited as long:
-- the 30-minute soak's lookup p99 rose 1.74x from minutes 5-10 to the last 5. With the index,
-- 4.3 ms. The index keeps its name and leading columns, so the feed filtered by segment uses it
-- as before; it is rebuilt once (1.2 s for that feed).
DROP INDEX IF EXISTS changes_by_segment;
CREATE INDEX changes_by_segment ON changes (tenant, segment_id, seq, at, member_count);
