-- Operator actions on jobs (`quel-worker cancel`, `quel-worker retry`,
-- adapters/postgres/pg_job_admin.cpp). Each is one function, so each action
-- is one round trip and one transaction under the job row lock, the same
-- lock every claim and every fenced write takes first (002's locking order).
-- Idempotent.

-- Cancels a job no live worker is running: pending, or processing under an
-- expired lease. It ends `failed` with error_message 'cancelled' like a
-- finish would (every image not made counts as failed, the production lists
-- the images made and goes failed), its credit holds go, and its epoch moves
-- on so that a worker that still believes it owns the job cannot write.
-- o_outcome: 'cancelled'; 'running' (a live lease: o_owner names the node,
-- which stops the job itself when it sees the Redis cancel key); 'finished'
-- (already completed or failed, o_status says which); 'missing'.
DROP FUNCTION IF EXISTS quel_worker_cancel_idle(uuid);
CREATE FUNCTION quel_worker_cancel_idle(p_job_id uuid)
RETURNS TABLE (o_outcome text, o_status text, o_owner text)
LANGUAGE plpgsql AS $$
DECLARE
  j quel_production_jobs%ROWTYPE;
  w quel_worker_job%ROWTYPE;
BEGIN
  SELECT * INTO j FROM quel_production_jobs WHERE job_id = p_job_id FOR UPDATE;
  IF NOT FOUND THEN
    o_outcome := 'missing';
    RETURN NEXT;
    RETURN;
  END IF;
  o_status := j.job_status;
  IF j.job_status IN ('completed', 'failed') THEN
    o_outcome := 'finished';
    RETURN NEXT;
    RETURN;
  END IF;
  SELECT * INTO w FROM quel_worker_job WHERE job_id = p_job_id FOR UPDATE;
  IF FOUND AND w.lease_expires_at > now() THEN
    o_outcome := 'running';
    o_owner := w.owner_node;
    RETURN NEXT;
    RETURN;
  END IF;
  UPDATE quel_production_jobs
     SET job_status = 'failed', error_message = 'cancelled', completed_at = now(),
         failed_images = greatest(total_images - completed_images, 0),
         updated_at = now()
   WHERE job_id = p_job_id;
  IF j.production_id IS NOT NULL THEN
    UPDATE quel_production_photo
       SET production_status = 'failed',
           attach_ids = quel_worker_append_ids(attach_ids,
                                               quel_worker_committed_ids(p_job_id)),
           updated_at = now()
     WHERE production_id = j.production_id;
  END IF;
  DELETE FROM quel_worker_credit_hold WHERE job_id = p_job_id;
  UPDATE quel_worker_job
     SET epoch = epoch + 1, lease_expires_at = least(lease_expires_at, now()),
         updated_at = now()
   WHERE job_id = p_job_id;
  o_outcome := 'cancelled';
  o_status := 'failed';
  RETURN NEXT;
END;
$$;

-- Puts a failed job back to pending so that it runs again. The images it
-- made stay: their markers in quel_worker_image make the next run skip them
-- (quel_worker_start returns them), so they are neither made nor charged
-- again, and completed_images keeps counting them. Its claim count starts
-- again, so a job quarantined after crashes can be retried too. The caller
-- pushes the id onto its queue after this commits.
-- o_outcome: 'retried', 'not_failed' (o_status says what it is), 'missing'.
DROP FUNCTION IF EXISTS quel_worker_retry(uuid);
CREATE FUNCTION quel_worker_retry(p_job_id uuid)
RETURNS TABLE (o_outcome text, o_status text, o_module text)
LANGUAGE plpgsql AS $$
DECLARE
  j quel_production_jobs%ROWTYPE;
BEGIN
  SELECT * INTO j FROM quel_production_jobs WHERE job_id = p_job_id FOR UPDATE;
  IF NOT FOUND THEN
    o_outcome := 'missing';
    RETURN NEXT;
    RETURN;
  END IF;
  o_status := j.job_status;
  o_module := j.job_input_data->>'module';
  IF j.job_status <> 'failed' THEN
    o_outcome := 'not_failed';
    RETURN NEXT;
    RETURN;
  END IF;
  UPDATE quel_production_jobs
     SET job_status = 'pending', error_message = NULL, completed_at = NULL,
         failed_images = 0, updated_at = now()
   WHERE job_id = p_job_id;
  UPDATE quel_worker_job
     SET attempts = 0, lease_expires_at = least(lease_expires_at, now()),
         updated_at = now()
   WHERE job_id = p_job_id;
  o_outcome := 'retried';
  o_status := 'pending';
  RETURN NEXT;
END;
$$;
