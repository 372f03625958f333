'use strict';
// The benchmark database `quel_bench` (dropped and recreated: never point the
// benchmarks at a server you care about) with the production schema and the
// worker's migrations, seeded with the same data for both workers.
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Client } = require('pg');

const ROOT = path.resolve(__dirname, '../../..');
const ORGS = 5;

function withDb(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

class BenchDb {
  constructor(adminUrl) {
    this.adminUrl = adminUrl;
    this.url = withDb(adminUrl, 'quel_bench');
  }

  async setup(workerBin) {
    const admin = new Client({ connectionString: this.adminUrl });
    await admin.connect();
    await admin.query('SET client_min_messages = warning');
    await admin.query('DROP DATABASE IF EXISTS quel_bench WITH (FORCE)');
    await admin.query('CREATE DATABASE quel_bench');
    this.pgStatStatements = (await admin.query(
      "SELECT current_setting('shared_preload_libraries') ~ 'pg_stat_statements' AS on")).rows[0].on;
    if (this.pgStatStatements) await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    // Statistics are read from here, so that the counts of quel_bench hold
    // only the worker's own statements.
    this.admin = admin;
    this.client = new Client({ connectionString: this.url });
    await this.client.connect();
    await this.client.query('SET client_min_messages = warning');
    await this.client.query(fs.readFileSync(path.join(ROOT, 'scripts/sql/production_schema.sql'), 'utf8'));
    execFileSync(workerBin, ['migrate'], { env: { ...cleanEnv(), QUEL_DATABASE_URL: this.url },
                                           stdio: ['ignore', 'ignore', 'pipe'] });
    if (this.pgStatStatements)
      await this.client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  }

  query(sql, params) { return this.client.query(sql, params); }
  // Disconnects from quel_bench (so that only the measured worker is counted
  // there) and connects again.
  async detach() { await this.client.end(); this.client = null; }
  async attach() {
    this.client = new Client({ connectionString: this.url });
    await this.client.connect();
  }
  async one(sql, params) { return Object.values((await this.client.query(sql, params)).rows[0])[0]; }

  // Empties every table (ids restart, so every run sees the same ids) and
  // seeds `jobs` 4-image jobs: 2 stages x 2 images, 2 inputs per stage,
  // over 5 organisations with credit to spare. Job i has the id
  // md5('job' || i)::uuid. `mix` makes every 10th job failing (its prompt
  // trips the stand-in's blocked-prompt rule) and every 10th+5 invalid.
  async reset(jobs, { mix = false } = {}) {
    const tables = (await this.query(
      "SELECT string_agg(quote_ident(tablename), ', ') AS t FROM pg_tables WHERE schemaname = 'public'")).rows[0].t;
    await this.query(`TRUNCATE ${tables} RESTART IDENTITY CASCADE`);
    await this.query(`INSERT INTO quel_organization (org_id, org_name, org_credit)
                      SELECT md5('org' || o)::uuid, 'bench org ' || o, 1000000000000
                        FROM generate_series(0, ${ORGS - 1}) o`);
    await this.query(`INSERT INTO quel_attach (attach_file_name, attach_file_path, attach_file_type,
                                               attach_file_size, org_id)
                      SELECT 'in' || k || '.png', 'inputs/' || o || '/in' || k || '.png', 'image/png',
                             4096, md5('org' || o)::uuid
                        FROM generate_series(0, ${ORGS - 1}) o, generate_series(0, 3) k
                       ORDER BY o, k`);
    const ids = await this.addJobs(0, jobs, { mix });
    await this.query('ANALYZE');
    await this.query('CHECKPOINT').catch(() => {});
    return ids;
  }

  // Inserts jobs first..first+count-1 (and their productions); returns their ids.
  // While a worker runs (the soak), this one statement takes key-share locks
  // on every organisation's row. Before migration 006 a worker's grouped
  // commit locked several organisations' rows FOR UPDATE in the order its
  // images arrived, and PostgreSQL could pick this insert as a deadlock
  // victim. Since 006 the worker locks organisations FOR NO KEY UPDATE, which
  // key-share locks do not wait for, so this retry should no longer fire; it
  // stays because a web app would retry too (docs/PERFORMANCE.md).
  async addJobs(first, count, opts = {}) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.insertJobs(first, count, opts);
      } catch (err) {
        if (err.code !== '40P01' || attempt >= 5) throw err;  // deadlock_detected
        // Said out loud, so a run shows whether the retry is still needed.
        console.error(`addJobs: chosen as a deadlock victim (attempt ${attempt}), retrying`);
      }
    }
  }

  async insertJobs(first, count, { mix = false } = {}) {
    const kind = mix ? `CASE WHEN j % 10 = 0 THEN 'failing' WHEN j % 10 = 5 THEN 'invalid' ELSE 'good' END`
                     : `'good'`;
    const { rows } = await this.query(`
      WITH j AS (SELECT j, (j % ${ORGS}) AS o, ${kind} AS kind
                   FROM generate_series($1::int, $1::int + $2::int - 1) j),
      prod AS (INSERT INTO quel_production_photo (production_id, org_id)
               SELECT md5('prod' || j)::uuid, md5('org' || o)::uuid FROM j)
      INSERT INTO quel_production_jobs (job_id, production_id, org_id, job_type, job_input_data)
      SELECT md5('job' || j)::uuid, md5('prod' || j)::uuid, md5('org' || o)::uuid, 'pipeline_stage',
             jsonb_build_object(
               'aspectRatio', CASE WHEN kind = 'invalid' THEN '7:7' ELSE '3:4' END,
               'stages', jsonb_build_array(
                 jsonb_build_object('stage_index', 0, 'quantity', 2,
                   'prompt', CASE WHEN kind = 'failing' THEN 'bench-blocked stage 0' ELSE 'bench stage 0' END,
                   'individualImageAttachIds', jsonb_build_array(
                     jsonb_build_object('attachId', o * 4 + 1, 'type', 'model'),
                     jsonb_build_object('attachId', o * 4 + 2, 'type', 'top'))),
                 jsonb_build_object('stage_index', 1, 'quantity', 2, 'prompt', 'bench stage 1',
                   'individualImageAttachIds', jsonb_build_array(
                     jsonb_build_object('attachId', o * 4 + 3, 'type', 'shoes'),
                     jsonb_build_object('attachId', o * 4 + 4, 'type', 'bag')))))
        FROM j ORDER BY j
      RETURNING job_id::text`, [first, count]);
    return rows.map((r) => r.job_id);
  }

  // Checks that every job was really done: `jobs` completed with 4 images,
  // one attach row and one credit log row per image, 4 files per job on disk.
  async verify(jobs, storageDir) {
    const r = (await this.query(`SELECT
      (SELECT count(*) FROM quel_production_jobs WHERE job_status = 'completed'
          AND completed_images = 4 AND jsonb_array_length(generated_attach_ids) = 4)::int AS completed,
      (SELECT count(*) FROM quel_attach WHERE attach_file_path LIKE 'generated/%')::int AS attach,
      (SELECT count(*) FROM quel_credit_log WHERE amount < 0)::int AS charges,
      (SELECT count(*) FROM quel_production_photo WHERE production_status = 'completed'
          AND jsonb_array_length(attach_ids) = 4)::int AS productions`)).rows[0];
    const files = countFiles(path.join(storageDir, 'images', 'generated'));
    const want = { completed: jobs, attach: 4 * jobs, charges: 4 * jobs, productions: jobs, files: 4 * jobs };
    const got = { ...r, files };
    for (const k of Object.keys(want))
      if (got[k] !== want[k])
        throw new Error(`work not done: ${k} = ${got[k]}, expected ${want[k]} (${JSON.stringify(got)})`);
    return got;
  }

  // Seconds from the first job's start to the last one's completion (server clock).
  async windowSeconds() {
    return Number(await this.one(`SELECT extract(epoch FROM max(completed_at) - min(started_at))
                                    FROM quel_production_jobs WHERE completed_at IS NOT NULL`));
  }

  async resetStatements() {
    if (this.pgStatStatements) await this.admin.query('SELECT pg_stat_statements_reset()');
  }

  // The server's count of transactions in quel_bench, once no backend other
  // than the harness's admin connection is there and the count has settled
  // (backends flush their counts when they exit).
  async serverTransactions() {
    for (let i = 0; i < 1000; ++i) {
      const open = Number((await this.admin.query(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'quel_bench'")).rows[0].n);
      if (open === 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const read = async () => {
      await this.admin.query('SELECT pg_stat_clear_snapshot()');
      return Number((await this.admin.query(`SELECT xact_commit + xact_rollback AS n
          FROM pg_stat_database WHERE datname = 'quel_bench'`)).rows[0].n);
    };
    let last = await read();
    for (let i = 0; i < 50; ++i) {
      await new Promise((r) => setTimeout(r, 150));
      const now = await read();
      if (now === last) break;
      last = now;
    }
    return last;
  }

  async statements() {
    if (!this.pgStatStatements) return [];
    const { rows } = await this.admin.query(`SELECT query, calls::bigint AS calls, total_exec_time AS ms
        FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
       WHERE d.datname = 'quel_bench' ORDER BY calls DESC`);
    return rows.map((r) => ({ query: r.query, calls: Number(r.calls), ms: Number(r.ms) }));
  }

  async end() {
    if (this.client) await this.client.end();
    if (this.admin) await this.admin.end();
  }
}

// Regular files under `dir`, at any depth (Node 18 has no recursive readdir).
function countFiles(dir) {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true }))
    if (e.isDirectory()) n += countFiles(path.join(dir, e.name));
    else if (e.isFile()) n += 1;
  return n;
}

// This process's environment without QUEL_* (the child gets exactly what we set).
function cleanEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('QUEL_')));
}

module.exports = { BenchDb, cleanEnv, countFiles, ORGS, ROOT };
