-- The worker's own bookkeeping tables. The production tables of
-- scripts/sql/production_schema.sql are never altered; these live beside them
-- without foreign keys, so that the web app can delete its rows freely and no
-- trigger is ever added to a production table. Idempotent.

-- Lease and fencing token of each job a worker has claimed. `epoch` grows by
-- one on every claim; every later write names it and is refused once another
-- claim has moved it on. `attempts` persists across crashes so that a job that
-- kills its workers is quarantined instead of crashing them forever.
CREATE TABLE IF NOT EXISTS quel_worker_job (
    job_id            uuid        PRIMARY KEY,
    owner_node        text        NOT NULL,
    epoch             bigint      NOT NULL DEFAULT 0,
    lease_expires_at  timestamptz NOT NULL DEFAULT now(),
    attempts          integer     NOT NULL DEFAULT 0,
    claimed_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Exactly-once marker of each output image: its presence means the attach
-- row, the charge and the credit log row of that image all exist.
CREATE TABLE IF NOT EXISTS quel_worker_image (
    job_id        uuid        NOT NULL,
    stage_index   integer     NOT NULL,
    image_index   integer     NOT NULL,
    attach_id     bigint      NOT NULL,
    object_key    text        NOT NULL,
    committed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, stage_index, image_index)
);

-- Credits reserved for an image before the model is called. Holds are the
-- worker's own bookkeeping and never appear in quel_credit_log.
CREATE TABLE IF NOT EXISTS quel_worker_credit_hold (
    job_id        uuid        NOT NULL,
    stage_index   integer     NOT NULL,
    image_index   integer     NOT NULL,
    org_id        uuid        NOT NULL,
    amount        bigint      NOT NULL CHECK (amount > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, stage_index, image_index)
);

-- Every hold and commit sums the holds of one organisation.
CREATE INDEX IF NOT EXISTS quel_worker_credit_hold_org_idx
    ON quel_worker_credit_hold (org_id);

-- The reconciler and `status` look for unfinished jobs; a partial index keeps
-- that cheap however many finished jobs the table holds.
CREATE INDEX IF NOT EXISTS quel_worker_jobs_unfinished_idx
    ON quel_production_jobs (created_at)
    WHERE job_status IN ('pending', 'processing');
