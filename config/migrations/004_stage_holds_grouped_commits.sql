-- Fewer, cheaper round trips per image (docs/ARCHITECTURE.md, "Statements
-- per job and per image"): a stage holds the credits of all its images in
-- one call, and a ledger shard commits the images whose commits arrived
-- together in one call and one transaction. Each image keeps exactly the
-- checks and effects of quel_worker_hold / quel_worker_commit_image (the
-- grouped commit calls that function per image), so fencing, the
-- exactly-once marker and the balance rules are unchanged. Idempotent.

-- Holds the credits of several images of one stage: one row per image,
-- (o_image, o_outcome) with 'held', 'insufficient_credits' or 'lease_lost'
-- as quel_worker_hold answers for one image, in the order given. Images
-- are held in that order while the balance lasts, so a short balance holds
-- the first images and refuses the rest. Like quel_worker_hold, the hold
-- need not wait for its WAL (see there) and takes no job row lock.
CREATE OR REPLACE FUNCTION quel_worker_hold_images(p_job_id uuid, p_epoch bigint,
                                                   p_stage integer, p_images integer[],
                                                   p_org_id uuid, p_cost bigint)
RETURNS TABLE (o_image integer, o_outcome text)
LANGUAGE plpgsql AS $$
DECLARE
  v_credit bigint;
  v_held bigint;
  v_image integer;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  IF NOT EXISTS (SELECT 1 FROM quel_worker_job
                  WHERE job_id = p_job_id AND epoch = p_epoch) THEN
    RETURN QUERY SELECT i, 'lease_lost'::text FROM unnest(p_images) AS i;
    RETURN;
  END IF;
  IF p_org_id IS NULL OR p_cost <= 0 THEN
    RETURN QUERY SELECT i, 'held'::text FROM unnest(p_images) AS i;
    RETURN;
  END IF;
  -- The organisation row lock serialises every hold and charge of one org.
  SELECT org_credit INTO v_credit FROM quel_organization
   WHERE org_id = p_org_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT i, 'insufficient_credits'::text FROM unnest(p_images) AS i;
    RETURN;
  END IF;
  -- Summed once: this call's own inserts are added as they are made.
  SELECT coalesce(sum(amount), 0) INTO v_held
    FROM quel_worker_credit_hold WHERE org_id = p_org_id;
  FOREACH v_image IN ARRAY p_images LOOP
    o_image := v_image;
    IF EXISTS (SELECT 1 FROM quel_worker_credit_hold
                WHERE job_id = p_job_id AND stage_index = p_stage
                  AND image_index = v_image)
       OR EXISTS (SELECT 1 FROM quel_worker_image
                   WHERE job_id = p_job_id AND stage_index = p_stage
                     AND image_index = v_image) THEN
      o_outcome := 'held';
    ELSIF v_credit - v_held < p_cost THEN
      o_outcome := 'insufficient_credits';
    ELSE
      INSERT INTO quel_worker_credit_hold (job_id, stage_index, image_index, org_id, amount)
      VALUES (p_job_id, p_stage, v_image, p_org_id, p_cost);
      v_held := v_held + p_cost;
      o_outcome := 'held';
    END IF;
    RETURN NEXT;
  END LOOP;
END;
$$;

-- Commits several images in one transaction: each element of p_images is
-- {"i", "job_id", "epoch", "stage", "image", "object_key", "file_name",
-- "mime_type", "size", "org_id", "cost"} and gets the row
-- quel_worker_commit_image returns for it, tagged with its "i". A refusal
-- (lease_lost, already_committed, insufficient_credits) concerns only its
-- own image; the others commit. JSON because libpqxx 6 has no array
-- parameters and the texts need no escaping of our own.
CREATE OR REPLACE FUNCTION quel_worker_commit_images(p_images jsonb)
RETURNS TABLE (o_i integer, o_outcome text, o_attach_id bigint, o_completed integer,
               o_total integer, o_balance bigint)
LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT * FROM jsonb_to_recordset(p_images)
             AS t(i integer, job_id uuid, epoch bigint, stage integer, image integer,
                  object_key text, file_name text, mime_type text, size bigint,
                  org_id uuid, cost bigint)
  LOOP
    RETURN QUERY
      SELECT r.i, c.o_outcome, c.o_attach_id, c.o_completed, c.o_total, c.o_balance
        FROM quel_worker_commit_image(r.job_id, r.epoch, r.stage, r.image, r.object_key,
                                      r.file_name, r.mime_type, r.size, r.org_id,
                                      r.cost) AS c;
  END LOOP;
END;
$$;

-- Plans that stay good on empty and full tables. plpgsql caches the plan of
-- each statement per connection, and after five calls may keep a generic
-- plan for good. Made while the worker's tables are empty (a fresh database,
-- or after they were emptied), such a plan scans sequentially, and a
-- long-lived connection kept scanning the whole table on every call once
-- it had filled (253k sequential scans of quel_worker_image in one
-- 2,000-job run, issue 10). Every lookup in these functions is by primary
-- key or by quel_worker_credit_hold_org_idx, so with sequential scans off
-- the planner picks the index path whatever the statistics say, and the
-- cached generic plan is the right one from the first call; nothing is
-- re-planned per call (plan_cache_mode=force_custom_plan would re-plan
-- every statement on every call). The setting holds only while the function
-- runs (and the functions it calls); a statement with no index path still
-- scans.
ALTER FUNCTION quel_worker_claim(uuid, text, bigint, integer) SET enable_seqscan = off;
ALTER FUNCTION quel_worker_fail_invalid(uuid, bigint, text) SET enable_seqscan = off;
ALTER FUNCTION quel_worker_start(uuid, bigint, integer) SET enable_seqscan = off;
ALTER FUNCTION quel_worker_finish(uuid, bigint, boolean, text, bigint[])
  SET enable_seqscan = off;
ALTER FUNCTION quel_worker_hold(uuid, bigint, integer, integer, uuid, bigint)
  SET enable_seqscan = off;
ALTER FUNCTION quel_worker_commit_image(uuid, bigint, integer, integer, text, text, text,
                                        bigint, uuid, bigint)
  SET enable_seqscan = off;
ALTER FUNCTION quel_worker_hold_images(uuid, bigint, integer, integer[], uuid, bigint)
  SET enable_seqscan = off;
ALTER FUNCTION quel_worker_commit_images(jsonb) SET enable_seqscan = off;
