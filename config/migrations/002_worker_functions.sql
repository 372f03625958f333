-- One SQL function per job_store / credit_ledger step, so that every step is
-- one round trip and one transaction (pg_store calls them through
-- exec_params, which works behind a transaction-mode pooler). Idempotent.
--
-- Locking order, the same in every function so that they never deadlock:
--   quel_production_jobs row -> quel_worker_job row -> quel_organization row
--   -> quel_production_photo row.
-- Only a claim changes quel_worker_job.epoch, and a claim holds the job row
-- lock while it does; so a function holding the job row lock reads an epoch
-- that cannot change before it commits.

-- True when the caller's epoch still owns the job; locks the job row.
CREATE OR REPLACE FUNCTION quel_worker_fence(p_job_id uuid, p_epoch bigint)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM quel_production_jobs WHERE job_id = p_job_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  RETURN EXISTS (SELECT 1 FROM quel_worker_job
                  WHERE job_id = p_job_id AND epoch = p_epoch);
END;
$$;

-- `existing` followed by the ids of `ids` it lacks, in their first order;
-- existing ids are never dropped or reordered.
CREATE OR REPLACE FUNCTION quel_worker_append_ids(p_existing jsonb, p_ids bigint[])
RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(p_existing, '[]'::jsonb) || coalesce(
    (SELECT jsonb_agg(to_jsonb(u.id) ORDER BY u.pos)
       FROM (SELECT t.id, min(t.pos) AS pos
               FROM unnest(p_ids) WITH ORDINALITY AS t(id, pos)
              WHERE t.id IS NOT NULL
              GROUP BY t.id) AS u
      WHERE NOT coalesce(p_existing, '[]'::jsonb) @> jsonb_build_array(u.id)),
    '[]'::jsonb)
$$;

-- The ids of the images committed for a job, in (stage, image) order.
CREATE OR REPLACE FUNCTION quel_worker_committed_ids(p_job_id uuid)
RETURNS bigint[] LANGUAGE sql STABLE AS $$
  SELECT coalesce(array_agg(attach_id ORDER BY stage_index, image_index), '{}')
    FROM quel_worker_image WHERE job_id = p_job_id
$$;

-- Loads a job and takes its lease (see job_store::claim). For a job under
-- another node's live lease it names that node and how long the lease has
-- left, so the caller can tell a live holder from a dead one's leftovers.
-- (DROP first: CREATE OR REPLACE cannot change a function's result columns.)
DROP FUNCTION IF EXISTS quel_worker_claim(uuid, text, bigint, integer);
CREATE FUNCTION quel_worker_claim(p_job_id uuid, p_node text,
                                  p_ttl_ms bigint, p_max_attempts integer)
RETURNS TABLE (o_outcome text, o_job_type text, o_input text, o_org_id uuid,
               o_production_id uuid, o_status text, o_epoch bigint,
               o_attempts integer, o_owner_node text, o_lease_left_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
  j quel_production_jobs%ROWTYPE;
  w quel_worker_job%ROWTYPE;
  v_has_worker boolean;
BEGIN
  SELECT * INTO j FROM quel_production_jobs WHERE job_id = p_job_id FOR UPDATE;
  IF NOT FOUND THEN
    o_outcome := 'missing';
    o_epoch := 0;
    o_attempts := 0;
    RETURN NEXT;
    RETURN;
  END IF;
  SELECT * INTO w FROM quel_worker_job WHERE job_id = p_job_id FOR UPDATE;
  v_has_worker := FOUND;

  o_job_type := j.job_type;
  o_input := j.job_input_data::text;
  o_org_id := j.org_id;
  o_production_id := j.production_id;
  o_status := j.job_status;
  o_epoch := coalesce(w.epoch, 0);
  o_attempts := coalesce(w.attempts, 0);

  IF j.job_status IN ('completed', 'failed') THEN
    o_outcome := 'finished';
    RETURN NEXT;
    RETURN;
  END IF;

  -- The same node may take back its own job at once (a restarted process
  -- with a stable node id).
  IF v_has_worker AND w.owner_node <> p_node AND w.lease_expires_at > now() THEN
    o_outcome := 'leased_elsewhere';
    o_owner_node := w.owner_node;
    o_lease_left_ms := ceil(extract(epoch FROM w.lease_expires_at - now()) * 1000)::bigint;
    RETURN NEXT;
    RETURN;
  END IF;

  -- Every claim that did not end in a finish or a graceful release counted
  -- as an attempt; this many of them means the job crashes its workers.
  IF p_max_attempts > 0 AND v_has_worker AND w.attempts >= p_max_attempts THEN
    UPDATE quel_production_jobs
       SET job_status = 'failed',
           error_message = format('quarantined after %s attempts: the worker crashed '
                                  'repeatedly while processing this job', w.attempts),
           completed_at = now(),
           failed_images = greatest(total_images - completed_images, 0),
           updated_at = now()
     WHERE job_id = p_job_id;
    -- Images made before the crashes stay made and charged, so the
    -- production lists them like a finish would.
    IF j.production_id IS NOT NULL THEN
      UPDATE quel_production_photo
         SET production_status = 'failed',
             attach_ids = quel_worker_append_ids(attach_ids,
                                                 quel_worker_committed_ids(p_job_id)),
             updated_at = now()
       WHERE production_id = j.production_id;
    END IF;
    DELETE FROM quel_worker_credit_hold WHERE job_id = p_job_id;
    -- A new epoch fences whichever worker might still be running the job.
    UPDATE quel_worker_job
       SET epoch = epoch + 1, owner_node = p_node, lease_expires_at = now(),
           updated_at = now()
     WHERE job_id = p_job_id
    RETURNING epoch INTO o_epoch;
    o_outcome := 'quarantined';
    RETURN NEXT;
    RETURN;
  END IF;

  INSERT INTO quel_worker_job AS q (job_id, owner_node, epoch, lease_expires_at,
                                    attempts, claimed_at, updated_at)
  VALUES (p_job_id, p_node, 1, now() + p_ttl_ms * interval '1 millisecond', 1,
          now(), now())
  ON CONFLICT (job_id) DO UPDATE
     SET owner_node = EXCLUDED.owner_node,
         epoch = q.epoch + 1,
         lease_expires_at = EXCLUDED.lease_expires_at,
         attempts = q.attempts + 1,
         claimed_at = now(),
         updated_at = now()
  RETURNING q.epoch, q.attempts INTO o_epoch, o_attempts;
  o_outcome := 'claimed';
  RETURN NEXT;
END;
$$;

-- A job is settled (finished or failed as invalid): its credit holds go and
-- its lease expires at once. The caller holds the job row lock (fence).
-- Returns true, the caller's answer.
CREATE OR REPLACE FUNCTION quel_worker_settle(p_job_id uuid)
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM quel_worker_credit_hold WHERE job_id = p_job_id;
  UPDATE quel_worker_job SET lease_expires_at = now(), updated_at = now()
   WHERE job_id = p_job_id;
  RETURN true;
END;
$$;

-- Sets a production's status (a job without a production has none: NULL).
CREATE OR REPLACE FUNCTION quel_worker_set_production_status(p_production uuid,
                                                             p_status text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_production IS NOT NULL THEN
    UPDATE quel_production_photo
       SET production_status = p_status, updated_at = now()
     WHERE production_id = p_production;
  END IF;
END;
$$;

-- Ends a job whose input is invalid (CONTRACT.md rule 20).
CREATE OR REPLACE FUNCTION quel_worker_fail_invalid(p_job_id uuid, p_epoch bigint,
                                                    p_message text)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  v_production uuid;
BEGIN
  IF NOT quel_worker_fence(p_job_id, p_epoch) THEN
    RETURN false;
  END IF;
  UPDATE quel_production_jobs
     SET job_status = 'failed', total_images = 0, completed_images = 0,
         failed_images = 0, error_message = p_message, completed_at = now(),
         updated_at = now()
   WHERE job_id = p_job_id
  RETURNING production_id INTO v_production;
  PERFORM quel_worker_set_production_status(v_production, 'failed');
  RETURN quel_worker_settle(p_job_id);
END;
$$;

-- Marks job and production processing; returns the images already committed
-- as [[stage, image, attach_id, key], ...], or NULL when the lease was lost.
CREATE OR REPLACE FUNCTION quel_worker_start(p_job_id uuid, p_epoch bigint,
                                             p_total integer)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  v_production uuid;
BEGIN
  IF NOT quel_worker_fence(p_job_id, p_epoch) THEN
    RETURN NULL;
  END IF;
  UPDATE quel_production_jobs
     SET job_status = 'processing', started_at = coalesce(started_at, now()),
         total_images = p_total, updated_at = now()
   WHERE job_id = p_job_id
  RETURNING production_id INTO v_production;
  PERFORM quel_worker_set_production_status(v_production, 'processing');
  RETURN (SELECT coalesce(jsonb_agg(jsonb_build_array(stage_index, image_index,
                                                      attach_id, object_key)
                                    ORDER BY stage_index, image_index),
                          '[]'::jsonb)
            FROM quel_worker_image WHERE job_id = p_job_id);
END;
$$;

-- Final status of job and production (see job_store::finish).
CREATE OR REPLACE FUNCTION quel_worker_finish(p_job_id uuid, p_epoch bigint,
                                              p_completed boolean, p_error text,
                                              p_ordered_ids bigint[])
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
    -- The caller's order first; any committed image it left out still
    -- reaches the production (each id once, existing ids kept first).
    UPDATE quel_production_photo
       SET attach_ids = quel_worker_append_ids(
                          quel_worker_append_ids(attach_ids, p_ordered_ids),
                          quel_worker_committed_ids(p_job_id)),
           production_status = v_status,
           updated_at = now()
     WHERE production_id = v_production;
  END IF;
  RETURN quel_worker_settle(p_job_id);
END;
$$;

-- Reserves credits for one image: 'held', 'insufficient_credits' or
-- 'lease_lost'. Idempotent per (job, stage, image).
--
-- Holds are admission control, not money: the charge in
-- quel_worker_commit_image re-checks the balance against the other holds
-- before it writes anything. So a hold need not wait for its WAL to reach
-- disk (synchronous_commit off for this transaction only): a hold lost in a
-- PostgreSQL crash is taken again by the image's next attempt, and at worst
-- an image is refused at commit as "credits ran out"; a balance still never
-- goes negative and nothing is charged twice. Measured with fsync on, this
-- takes the hold's flush off every image's path (bench/README.md).
-- The epoch check takes no row lock either: only a claim changes the epoch,
-- and a hold that slips in just before a claim is harmless (it is captured
-- by the image's commit or deleted when the job finishes).
CREATE OR REPLACE FUNCTION quel_worker_hold(p_job_id uuid, p_epoch bigint,
                                            p_stage integer, p_image integer,
                                            p_org_id uuid, p_cost bigint)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  v_credit bigint;
  v_held bigint;
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  IF NOT EXISTS (SELECT 1 FROM quel_worker_job
                  WHERE job_id = p_job_id AND epoch = p_epoch) THEN
    RETURN 'lease_lost';
  END IF;
  IF p_org_id IS NULL OR p_cost <= 0 THEN
    RETURN 'held';
  END IF;
  -- The organisation row lock serialises every hold and charge of one org.
  SELECT org_credit INTO v_credit FROM quel_organization
   WHERE org_id = p_org_id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 'insufficient_credits';
  END IF;
  IF EXISTS (SELECT 1 FROM quel_worker_credit_hold
              WHERE job_id = p_job_id AND stage_index = p_stage
                AND image_index = p_image)
     OR EXISTS (SELECT 1 FROM quel_worker_image
                 WHERE job_id = p_job_id AND stage_index = p_stage
                   AND image_index = p_image) THEN
    RETURN 'held';
  END IF;
  SELECT coalesce(sum(amount), 0) INTO v_held
    FROM quel_worker_credit_hold WHERE org_id = p_org_id;
  IF v_credit - v_held < p_cost THEN
    RETURN 'insufficient_credits';
  END IF;
  INSERT INTO quel_worker_credit_hold (job_id, stage_index, image_index, org_id, amount)
  VALUES (p_job_id, p_stage, p_image, p_org_id, p_cost);
  RETURN 'held';
END;
$$;

-- Everything of one output image in one transaction (see
-- credit_ledger::commit_image). o_outcome: 'committed', 'already_committed',
-- 'lease_lost' or 'insufficient_credits'.
CREATE OR REPLACE FUNCTION quel_worker_commit_image(
    p_job_id uuid, p_epoch bigint, p_stage integer, p_image integer,
    p_object_key text, p_file_name text, p_mime_type text, p_size bigint,
    p_org_id uuid, p_cost bigint)
RETURNS TABLE (o_outcome text, o_attach_id bigint, o_completed integer,
               o_total integer, o_balance bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_charged boolean := p_org_id IS NOT NULL AND p_cost > 0;
  v_credit bigint;
  v_held bigint;
BEGIN
  -- A refusal leaves this block (EXIT refused) with its outcome set; the
  -- job's progress is then reported as it stands.
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
       WHERE org_id = p_org_id FOR UPDATE;
      -- Credits held for other images are promised; this image's own hold is
      -- what it spends now.
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

    INSERT INTO quel_worker_image (job_id, stage_index, image_index, attach_id, object_key)
    VALUES (p_job_id, p_stage, p_image, o_attach_id, p_object_key);
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
