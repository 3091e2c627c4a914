-- 006: apply_delivery() removes members with one index probe per removed user.
--
-- 005 removed them with one statement, DELETE ... WHERE sid = v_sid AND user_id = ANY (p_remove),
-- whose plan depends on the statistics. PL/pgSQL caches a generic plan (planned without the
-- values) until the table is next analyzed, and in a new store it was a scan of the whole segment
-- by sid comparing every member with every removed user: in the small benchmark (auto_explain) up
-- to 7,450 rows filtered per call, 3.5-4.7 ms of each page, on the segment's row lock, growing
-- with the segment; on a 10,000-member segment 50 removes took 10 ms and 1,000 removes 222 ms.
-- Planning it per call (EXECUTE) did not cure it: while the table has not been analyzed yet the
-- planner guesses a segment at a few dozen rows and picks the same scan (large benchmark pages:
-- 6,000-11,000 rows filtered per call). The loop below cannot pick it: a delete by both keys
-- is always one probe of an index on both, (sid, user_id) or (user_id, sid). Removing 50 users costs 0.26 ms; 1,000 about 6-9 ms
-- (5-7 with a good plan for the ANY statement); test/integration/postgresRemovalPlan.test.ts reads
-- the plans back. The removed users are listed in the page's order. Nothing else changes: the
-- same rules, locks and outputs as 005, whose comments hold.

CREATE OR REPLACE FUNCTION apply_delivery(
  p_signature_key text,
  p_at bigint,
  p_path text,
  p_action_type text,
  p_body_sha256 text,
  -- 'sync', 'drain' or 'unknown' (an action this receiver does not apply)
  p_kind text,
  p_tenant text,
  p_segment_id bigint,
  p_name text,
  p_customer_config json,
  p_task_id text,
  p_page_number bigint,
  p_total_pages bigint,
  p_add text[],
  p_remove text[],
  OUT status text,
  OUT segment_id bigint,
  OUT member_count bigint,
  OUT added bigint,
  OUT removed bigint,
  OUT duplicate_of text,
  OUT content_differs boolean,
  OUT task_complete boolean,
  OUT linked boolean
) LANGUAGE plpgsql AS $$
-- Names in SQL are columns; the OUT parameters of the same names are set outside SQL or via INTO.
#variable_conflict use_column
DECLARE
  v_accepted boolean;
  v_sid bigint;
  v_previous_sha text;
  v_added text[] := '{}';
  v_removed text[] := '{}';
  v_removed_count bigint := 0;
  v_completed_at bigint;
  v_seq bigint;
  v_user text;
BEGIN
  added := 0;
  removed := 0;
  -- The replay key, and whether the tenant has an active connection.
  INSERT INTO accepted_signatures (signature_key, received_at) VALUES (p_signature_key, p_at)
    ON CONFLICT DO NOTHING;
  v_accepted := FOUND;
  linked := p_tenant = '' OR EXISTS (
    SELECT 1 FROM connections c
    WHERE c.id_token = p_tenant AND c.access_token_sealed IS NOT NULL);

  IF NOT v_accepted THEN
    -- A replay of an accepted signed request is a duplicate, whatever its action.
    status := 'duplicate';
    duplicate_of := 'signature';
  ELSIF p_kind = 'sync' THEN
    -- Under concurrency the second claimant waits for the first to commit, then finds the row.
    INSERT INTO sync_pages (tenant, segment_id, task_id, page_number, body_sha256, received_at)
      VALUES (p_tenant, p_segment_id, p_task_id, p_page_number, p_body_sha256, p_at)
      ON CONFLICT DO NOTHING;
    IF FOUND THEN
      status := 'applied';
    ELSE
      SELECT p.body_sha256 INTO v_previous_sha FROM sync_pages p
        WHERE p.tenant = p_tenant AND p.segment_id = p_segment_id AND p.task_id = p_task_id
          AND p.page_number = p_page_number;
      status := 'duplicate';
      duplicate_of := 'page';
      content_differs := v_previous_sha IS DISTINCT FROM p_body_sha256;
    END IF;
  ELSIF p_kind = 'drain' THEN
    status := 'applied';
  ELSE
    status := 'ignored';
  END IF;
  segment_id := p_segment_id;

  IF status = 'applied' THEN
    -- Creates or refreshes the segment row (absent name or customer_config keep the stored
    -- ones); its row lock serialises deliveries to one segment.
    INSERT INTO segments AS s (tenant, segment_id, name, customer_config, created_at, updated_at)
      VALUES (p_tenant, p_segment_id, p_name, p_customer_config, p_at, p_at)
      ON CONFLICT (tenant, segment_id) DO UPDATE SET
        name = coalesce(excluded.name, s.name),
        customer_config = coalesce(excluded.customer_config, s.customer_config),
        updated_at = excluded.updated_at
      RETURNING s.sid INTO v_sid;
    IF p_kind = 'sync' THEN
      IF cardinality(p_remove) > 0 THEN
        -- One index probe on both keys per removed user, whatever the statistics say (header).
        FOREACH v_user IN ARRAY p_remove LOOP
          DELETE FROM members m WHERE m.sid = v_sid AND m.user_id = v_user;
          IF FOUND THEN
            v_removed := v_removed || v_user;
          END IF;
        END LOOP;
      END IF;
      IF cardinality(p_add) > 0 THEN
        WITH came AS (
          INSERT INTO members AS m (sid, user_id, added_at)
          SELECT v_sid, u, p_at FROM unnest(p_add) AS u
          ON CONFLICT DO NOTHING RETURNING m.user_id)
        SELECT coalesce(array_agg(came.user_id), '{}') INTO v_added FROM came;
      END IF;
      added := cardinality(v_added);
      removed := cardinality(v_removed);
      v_removed_count := removed;
      UPDATE segments s
        SET member_count = s.member_count + added - removed, last_sync_at = p_at, updated_at = p_at
        WHERE s.sid = v_sid RETURNING s.member_count INTO member_count;
      INSERT INTO sync_tasks AS t (tenant, segment_id, task_id, total_pages, pages_received,
                                   first_delivery_at, last_delivery_at, completed_at)
        VALUES (p_tenant, p_segment_id, p_task_id, p_total_pages, 1, p_at, p_at,
                CASE WHEN p_total_pages <= 1 THEN p_at END)
        ON CONFLICT (tenant, segment_id, task_id) DO UPDATE SET
          total_pages = excluded.total_pages,
          pages_received = t.pages_received + 1,
          last_delivery_at = excluded.last_delivery_at,
          completed_at = coalesce(t.completed_at,
            CASE WHEN t.pages_received + 1 >= excluded.total_pages
                 THEN excluded.last_delivery_at END)
        RETURNING t.completed_at INTO v_completed_at;
      task_complete := v_completed_at IS NOT NULL;
    ELSE
      DELETE FROM members m WHERE m.sid = v_sid;
      GET DIAGNOSTICS v_removed_count = ROW_COUNT;
      UPDATE segments s SET member_count = 0, last_drain_at = p_at, updated_at = p_at
        WHERE s.sid = v_sid;
      member_count := 0;
      removed := v_removed_count;
    END IF;
  END IF;

  -- A duplicate changes nothing and reports the segment's current size (0 if it never existed).
  IF status = 'duplicate' AND segment_id IS NOT NULL THEN
    SELECT coalesce(max(s.member_count), 0) INTO member_count FROM segments s
      WHERE s.tenant = p_tenant AND s.segment_id = p_segment_id;
  END IF;

  INSERT INTO deliveries (received_at, path, action_type, tenant, segment_id, task_id, page_number,
                          status, http_status, reason, body_sha256, added, removed, linked)
    VALUES (p_at, p_path, p_action_type, p_tenant, segment_id,
            CASE WHEN p_kind = 'sync' THEN p_task_id END,
            CASE WHEN p_kind = 'sync' THEN p_page_number END,
            status, 200, 'duplicate_' || duplicate_of, p_body_sha256, added, removed, linked);

  -- Last, so the head row is held only from here to the commit.
  IF status = 'applied' THEN
    UPDATE change_feed_head SET last_seq = last_seq + 1 RETURNING last_seq INTO v_seq;
    INSERT INTO changes (seq, at, tenant, segment_id, kind, task_id, page_number, added, removed,
                         removed_count, member_count)
      VALUES (v_seq, p_at, p_tenant, p_segment_id, p_kind,
              CASE WHEN p_kind = 'sync' THEN p_task_id END,
              CASE WHEN p_kind = 'sync' THEN p_page_number END,
              v_added, v_removed, v_removed_count, member_count);
  END IF;
END $$;
