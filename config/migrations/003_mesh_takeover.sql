-- Worker mesh (docs/DISTRIBUTED.md): the one survivor elected through Redis
-- to take over a dead peer fences that peer's jobs at once, instead of
-- waiting for their leases to expire. Idempotent.
--
-- For every unfinished job under a live lease of `p_dead` it does what a
-- claim does to the previous owner, on nobody's behalf: the epoch moves on
-- (so every later write of the dead or partitioned node, which carries the
-- old epoch, is refused by quel_worker_fence, renew and hold) and the lease
-- expires now (so the next ordinary claim, by any node, succeeds at once and
-- counts its attempt as usual). quel_worker_claim itself is unchanged.
-- Locking order as everywhere (002): the job row, then its worker row; one
-- job at a time, in job order. Returns how many jobs it fenced.
CREATE OR REPLACE FUNCTION quel_worker_take_over_node(p_dead text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  r record;
  v_count integer := 0;
  v_one integer;
BEGIN
  FOR r IN SELECT job_id FROM quel_worker_job
            WHERE owner_node = p_dead AND lease_expires_at > now()
            ORDER BY job_id LOOP
    PERFORM 1 FROM quel_production_jobs
     WHERE job_id = r.job_id AND job_status NOT IN ('completed', 'failed')
       FOR UPDATE;
    CONTINUE WHEN NOT FOUND;
    -- Re-checked under the lock: another node may have claimed it meanwhile.
    UPDATE quel_worker_job
       SET epoch = epoch + 1, lease_expires_at = now(), updated_at = now()
     WHERE job_id = r.job_id AND owner_node = p_dead AND lease_expires_at > now();
    GET DIAGNOSTICS v_one = ROW_COUNT;
    v_count := v_count + v_one;
  END LOOP;
  RETURN v_count;
END;
$$;
