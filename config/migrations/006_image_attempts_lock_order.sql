-- Two things, both in the worker's own functions and tables (the contract's
-- tables are never altered). Idempotent.
--
-- 1. Attempts per image (issue 11, `status JOB_ID`): how many times the
--    worker tried each image, kept with the image's own record and written
--    by a call the worker makes anyway, so no image costs another round trip
--    (issue 10): a made image's count rides on its commit
--    (quel_worker_image.attempts), a given-up image's count and reason ride
--    on the job's finish (quel_worker_image_failure). The definition is in
--    docs/OPERATIONS.md ("Attempts").
--
-- 2. One lock order for grouped commits (issue 10). quel_worker_commit_images
--    (004) committed its images in arrival order, each taking its job row and
--    then its organisation's row: two shards (of two workers) committing
--    groups that share two jobs or organisations in opposite orders each held
--    a row the other wanted, and PostgreSQL aborted one (40P01). Now a group
--    first locks all its job rows in job_id order, then all its organisation
--    rows in org_id order, and only then commits image by image. Every other
--    function locks one job row and then at most one organisation, so the
--    order of 002 (job rows -> quel_worker_job row -> organisation rows ->
--    production row) holds for all of them, with several rows of one table
--    taken in ascending key order.
--
--    The organisation rows are locked FOR NO KEY UPDATE (the lock an UPDATE
--    of org_credit takes anyway) instead of FOR UPDATE: it still serialises
--    every hold and charge of one organisation (it conflicts with itself),
--    but not the key-share locks that foreign keys take, so a producer
--    inserting jobs or productions for an organisation never waits for, or
--    deadlocks with, a worker's holds and charges.

ALTER TABLE quel_worker_image ADD COLUMN IF NOT EXISTS attempts integer;
COMMENT ON COLUMN quel_worker_image.attempts IS
  'attempts of the run that made the image (docs/OPERATIONS.md); NULL: committed before 006';

-- Images a finished job gave up: which, after how many attempts, and why.
-- Written by quel_worker_finish (the whole set of the job each time, so a
-- retried job that ends completed leaves none); like the other worker tables
-- it has no foreign keys.
CREATE TABLE IF NOT EXISTS quel_worker_image_failure (
    job_id       uuid        NOT NULL,
    stage_index  integer     NOT NULL,
    image_index  integer     NOT NULL,
    attempts     integer,    -- NULL: unknown (its stage was given up after crashes)
    reason       text        NOT NULL,
    failed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, stage_index, image_index)
);

-- 004's function with the organisation row locked FOR NO KEY UPDATE.
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
   WHERE org_id = p_org_id FOR NO KEY UPDATE;
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

-- 002's quel_worker_commit_image with the image's attempts (p_attempts,
-- NULL when unknown) stored in its marker, and the organisation row locked
-- FOR NO KEY UPDATE. Everything else is unchanged.
CREATE OR REPLACE FUNCTION quel_worker_commit_image(
    p_job_id uuid, p_epoch bigint, p_stage integer, p_image integer,
    p_object_key text, p_file_name text, p_mime_type text, p_size bigint,
    p_org_id uuid, p_cost bigint, p_attempts integer)
RETURNS TABLE (o_outcome text, o_attach_id bigint, o_completed integer,
               o_total integer, o_balance bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_charged boolean := p_org_id IS NOT NULL AND p_cost > 0;
  v_credit bigint;
  v_held bigint;
BEGIN
  <<refused>>
  BEGIN
    IF NOT quel_worker_fence(p_job_id, p_epoch) THEN
      o_outcome := 'lease_lost';
      EXIT refused;
    END IF;

    SELECT attach_id INTO o_attach_id FROM quel_worker_image
     WHERE job_id = p_job_id AND stage_index = p_stage AND image_index = p_image;
    IF FOUND THEN
      o_outcome := 'already_committed';
      EXIT refused;
    END IF;

    IF v_charged THEN
      SELECT org_credit INTO v_credit FROM quel_organization
       WHERE org_id = p_org_id FOR NO KEY UPDATE;
      SELECT coalesce(sum(amount), 0) INTO v_held
        FROM quel_worker_credit_hold
       WHERE org_id = p_org_id
         AND NOT (job_id = p_job_id AND stage_index = p_stage AND image_index = p_image);
      IF v_credit IS NULL OR v_credit - v_held < p_cost THEN
        o_outcome := 'insufficient_credits';
        EXIT refused;
      END IF;
    END IF;

    INSERT INTO quel_attach (attach_file_name, attach_original_name, attach_file_path,
                             attach_file_type, attach_file_size, org_id)
    VALUES (p_file_name, p_file_name, p_object_key, p_mime_type, p_size, p_org_id)
    RETURNING attach_id INTO o_attach_id;

    IF v_charged THEN
      UPDATE quel_organization
         SET org_credit = org_credit - p_cost, updated_at = now()
       WHERE org_id = p_org_id
      RETURNING org_credit INTO o_balance;
      INSERT INTO quel_credit_log (org_id, job_id, attach_id, amount, balance_after, reason)
      VALUES (p_org_id, p_job_id, o_attach_id, -p_cost, o_balance, 'image_generation');
    END IF;

    INSERT INTO quel_worker_image (job_id, stage_index, image_index, attach_id, object_key,
                                   attempts)
    VALUES (p_job_id, p_stage, p_image, o_attach_id, p_object_key, p_attempts);
    DELETE FROM quel_worker_credit_hold
     WHERE job_id = p_job_id AND stage_index = p_stage AND image_index = p_image;

    UPDATE quel_production_jobs
       SET completed_images = completed_images + 1,
           generated_attach_ids = generated_attach_ids || to_jsonb(o_attach_id),
           updated_at = now()
     WHERE job_id = p_job_id
    RETURNING completed_images, total_images INTO o_completed, o_total;
    o_outcome := 'committed';
    RETURN NEXT;
    RETURN;
  END refused;

  SELECT completed_images, total_images INTO o_completed, o_total
    FROM quel_production_jobs WHERE job_id = p_job_id;
  RETURN NEXT;
END;
$$;

-- The ten-argument form of 002, for workers older than 006 still running
-- during a rolling upgrade: the same commit, attempts unknown.
CREATE OR REPLACE FUNCTION quel_worker_commit_image(
    p_job_id uuid, p_epoch bigint, p_stage integer, p_image integer,
    p_object_key text, p_file_name text, p_mime_type text, p_size bigint,
    p_org_id uuid, p_cost bigint)
RETURNS TABLE (o_outcome text, o_attach_id bigint, o_completed integer,
               o_total integer, o_balance bigint)
LANGUAGE sql AS $$
  SELECT * FROM quel_worker_commit_image(p_job_id, p_epoch, p_stage, p_image, p_object_key,
                                         p_file_name, p_mime_type, p_size, p_org_id, p_cost,
                                         NULL::integer)
$$;

-- 004's grouped commit in one lock order (see the top of this file); each
-- element of p_images may carry "attempts". Results are tagged with the
-- element's "i" as before, so the caller pairs them by tag, not by position.
CREATE OR REPLACE FUNCTION quel_worker_commit_images(p_images jsonb)
RETURNS TABLE (o_i integer, o_outcome text, o_attach_id bigint, o_completed integer,
               o_total integer, o_balance bigint)
LANGUAGE plpgsql AS $$
DECLARE
  r record;
  v_id uuid;
BEGIN
  -- Every job row of the group, ascending: the per-image fence below then
  -- finds its row already locked by this transaction.
  FOR v_id IN SELECT DISTINCT (e->>'job_id')::uuid FROM jsonb_array_elements(p_images) AS e
               ORDER BY 1 LOOP
    PERFORM 1 FROM quel_production_jobs WHERE job_id = v_id FOR UPDATE;
  END LOOP;
  -- Then every organisation charged, ascending, before any is charged.
  FOR v_id IN SELECT DISTINCT (e->>'org_id')::uuid FROM jsonb_array_elements(p_images) AS e
               WHERE e->>'org_id' IS NOT NULL AND coalesce((e->>'cost')::bigint, 0) > 0
               ORDER BY 1 LOOP
    PERFORM 1 FROM quel_organization WHERE org_id = v_id FOR NO KEY UPDATE;
  END LOOP;
  FOR r IN SELECT * FROM jsonb_to_recordset(p_images)
             AS t(i integer, job_id uuid, epoch bigint, stage integer, image integer,
                  object_key text, file_name text, mime_type text, size bigint,
                  org_id uuid, cost bigint, attempts integer)
  LOOP
    RETURN QUERY
      SELECT r.i, c.o_outcome, c.o_attach_id, c.o_completed, c.o_total, c.o_balance
        FROM quel_worker_commit_image(r.job_id, r.epoch, r.stage, r.image, r.object_key,
                                      r.file_name, r.mime_type, r.size, r.org_id,
                                      r.cost, r.attempts) AS c;
  END LOOP;
END;
$$;

-- 002's quel_worker_finish, also recording the images the job gave up:
-- p_failed is [{"stage", "image", "attempts", "reason"}, ...] (attempts
-- null when unknown); the job's earlier records are replaced, in the same
-- transaction as its final status. NULL leaves them as they are.
CREATE OR REPLACE FUNCTION quel_worker_finish(p_job_id uuid, p_epoch bigint,
                                              p_completed boolean, p_error text,
                                              p_ordered_ids bigint[], p_failed jsonb)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  v_production uuid;
  v_status text := CASE WHEN p_completed THEN 'completed' ELSE 'failed' END;
BEGIN
  IF NOT quel_worker_fence(p_job_id, p_epoch) THEN
    RETURN false;
  END IF;
  UPDATE quel_production_jobs
     SET job_status = v_status,
         error_message = CASE WHEN p_completed THEN NULL
                              ELSE coalesce(p_error, 'the job failed') END,
         completed_at = now(),
         failed_images = greatest(total_images - completed_images, 0),
         updated_at = now()
   WHERE job_id = p_job_id
  RETURNING production_id INTO v_production;
  IF v_production IS NOT NULL THEN
    UPDATE quel_production_photo
       SET attach_ids = quel_worker_append_ids(
                          quel_worker_append_ids(attach_ids, p_ordered_ids),
                          quel_worker_committed_ids(p_job_id)),
           production_status = v_status,
           updated_at = now()
     WHERE production_id = v_production;
  END IF;
  IF p_failed IS NOT NULL THEN
    DELETE FROM quel_worker_image_failure WHERE job_id = p_job_id;
    INSERT INTO quel_worker_image_failure (job_id, stage_index, image_index, attempts, reason)
    SELECT p_job_id, f.stage, f.image, f.attempts, coalesce(f.reason, '')
      FROM jsonb_to_recordset(p_failed)
           AS f(stage integer, image integer, attempts integer, reason text)
     WHERE f.stage IS NOT NULL AND f.image IS NOT NULL
    ON CONFLICT (job_id, stage_index, image_index) DO NOTHING;
  END IF;
  RETURN quel_worker_settle(p_job_id);
END;
$$;

-- The five-argument form of 002, for workers older than 006.
CREATE OR REPLACE FUNCTION quel_worker_finish(p_job_id uuid, p_epoch bigint,
                                              p_completed boolean, p_error text,
                                              p_ordered_ids bigint[])
RETURNS boolean LANGUAGE sql AS $$
  SELECT quel_worker_finish(p_job_id, p_epoch, p_completed, p_error, p_ordered_ids,
                            NULL::jsonb)
$$;

-- As in 004: index paths from the first call (CREATE OR REPLACE sets a
-- function's SET clauses to those it names, none here, so they are set
-- again).
ALTER FUNCTION quel_worker_hold_images(uuid, bigint, integer, integer[], uuid, bigint)
  SET enable_seqscan = off;
ALTER FUNCTION quel_worker_commit_image(uuid, bigint, integer, integer, text, text, text,
                                        bigint, uuid, bigint, integer)
  SET enable_seqscan = off;
ALTER FUNCTION quel_worker_commit_image(uuid, bigint, integer, integer, text, text, text,
                                        bigint, uuid, bigint)
  SET enable_seqscan = off;
ALTER FUNCTION quel_worker_commit_images(jsonb) SET enable_seqscan = off;
ALTER FUNCTION quel_worker_finish(uuid, bigint, boolean, text, bigint[], jsonb)
  SET enable_seqscan = off;
ALTER FUNCTION quel_worker_finish(uuid, bigint, boolean, text, bigint[])
  SET enable_seqscan = off;
