-- Holds are admission control, not money: the charge in
-- quel_worker_commit_image re-checks the balance against the other holds
-- before it writes anything. So a hold need not wait for its WAL to reach
-- disk (synchronous_commit off for this transaction only): a hold lost in a
-- PostgreSQL crash is taken again by the image's next attempt, and at worst
-- an image is refused at commit as "credits ran out"; a balance still never
-- goes negative and nothing is charged twice. Measured with fsync on, this
-- takes the hold's flush off every image's path (bench/README.md).
--
-- The epoch check here takes no row lock either: only a claim changes the
-- epoch, and a hold that slips in just before a claim is harmless (it is
-- captured by the image's commit or deleted when the job finishes).

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
