#!/usr/bin/env node
// The benchmark peer (issue 10): the Node.js BullMQ worker a user would write
// instead of quel-worker, doing the same work per job on the contract schema
// (/work/shared/contract/schema.sql):
//   load the job row and validate job_input_data (CONTRACT.md section 3),
//   read the inputs from local storage ($STORAGE_DIR/$BUCKET/<key>),
//   call the Gemini generateContent API (in the benchmarks: the stand-in
//   tests/standins/gemini_standin.py, which speaks the real wire format),
//   write each output image to local storage,
//   and per image, in ONE statement (a data-modifying CTE, so one round trip
//   and one transaction): charge the organisation (never below zero), insert
//   the quel_attach row and the quel_credit_log row, and count the progress on
//   the job row. Per job: read the job, read its attach rows (one query), mark
//   it processing, and finish it (job + production in one statement).
//
// What it does not do, as a typical worker would not: no exactly-once marker
// (a job retried after a crash between commit and ack is charged again), no
// leases or fencing, no credit holds, no dead-letter list. The benchmark
// therefore favours the peer; see bench/README.md.
//
// Environment: PEER_REDIS_URL, PEER_DATABASE_URL, PEER_STORAGE_DIR,
// PEER_BUCKET (images), PEER_QUEUE (quel-bench), PEER_CONCURRENCY (jobs at a
// time, 16), PEER_PG_POOL (10), PEER_GEMINI_BASE_URL, PEER_GEMINI_KEY,
// PEER_GEMINI_MODEL, PEER_COST (credits per image, 1), PEER_DRAIN=1 (exit once
// the queue is empty and nothing is active). Prints "peer done N" on exit.
'use strict';

const fs = require('node:fs/promises');
const path = require('node:path');
const { Worker } = require('bullmq');
const IORedis = require('ioredis');
const { Pool } = require('pg');

const env = (name, fallback) => process.env[name] ?? fallback;
const storageDir = env('PEER_STORAGE_DIR', './data/storage');
const bucket = env('PEER_BUCKET', 'images');
const queueName = env('PEER_QUEUE', 'quel-bench');
const concurrency = Number(env('PEER_CONCURRENCY', '16'));
const cost = Number(env('PEER_COST', '1'));
const geminiUrl = `${env('PEER_GEMINI_BASE_URL', 'http://127.0.0.1:8080')}/v1beta/models/`
  + `${env('PEER_GEMINI_MODEL', 'gemini-3.1-flash-image')}:generateContent`;
const geminiKey = env('PEER_GEMINI_KEY', 'bench-key');

const pool = new Pool({ connectionString: env('PEER_DATABASE_URL'),
                        max: Number(env('PEER_PG_POOL', '10')) });

const ASPECT_RATIOS = new Set(['1:1', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '9:16',
                               '16:9', '21:9']);

class InvalidJob extends Error {}

// A whole number > 0 and <= 2^53 as the contract accepts it (rule 7).
function wholeNumber(v, what, min = 1) {
  let n = NaN;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^[0-9]+$/.test(v)) n = Number(v);
  if (!Number.isInteger(n) || n < min || n > 2 ** 53)
    throw new InvalidJob(`${what}: invalid value ${JSON.stringify(v)}`);
  return n;
}

// Stages in an order where every fromStage comes first (CONTRACT.md 3, 6-12).
function parseJob(row) {
  const input = row.job_input_data;
  let stages;
  if (row.job_type === 'pipeline_stage') stages = input.stages;
  else if (row.job_type === 'single_batch') stages = [{ ...input, stage_index: 0 }];
  else throw new InvalidJob(`unknown job_type ${row.job_type}`);
  if (!Array.isArray(stages) || stages.length < 1 || stages.length > 16)
    throw new InvalidJob('stages must be an array of 1..16 stages');
  if (input.aspectRatio !== undefined && !ASPECT_RATIOS.has(input.aspectRatio))
    throw new InvalidJob(`aspectRatio ${JSON.stringify(input.aspectRatio)} is not supported`);
  const byIndex = new Map();
  for (const s of stages) {
    const idx = wholeNumber(s.stage_index, 'stage_index', 0);
    if (byIndex.has(idx)) throw new InvalidJob(`stage ${idx} appears twice`);
    if (typeof s.prompt !== 'string' || s.prompt.length < 1 || [...s.prompt].length > 20000)
      throw new InvalidJob(`stage ${idx}: prompt must be 1..20000 characters`);
    const quantity = wholeNumber(s.quantity, `stage ${idx}: quantity`);
    if (quantity > 16) throw new InvalidJob(`stage ${idx}: quantity above 16`);
    const list = s.individualImageAttachIds;
    if (!Array.isArray(list) || list.length > 16)
      throw new InvalidJob(`stage ${idx}: individualImageAttachIds must list at most 16`);
    const inputs = list.map((e, k) => {
      const where = `stage ${idx} entry ${k}`;
      if (typeof e?.type !== 'string' || e.type === '') throw new InvalidJob(`${where}: type`);
      if ((e.attachId === undefined) === (e.fromStage === undefined))
        throw new InvalidJob(`${where}: needs exactly one of attachId and fromStage`);
      if (e.attachId !== undefined)
        return { type: e.type, attachId: wholeNumber(e.attachId, `${where}: attachId`) };
      return { type: e.type, fromStage: wholeNumber(e.fromStage, `${where}: fromStage`, 0),
               index: e.index === undefined ? 0 : wholeNumber(e.index, `${where}: index`, 0) };
    });
    byIndex.set(idx, { index: idx, prompt: s.prompt, quantity, inputs });
  }
  const ordered = [];
  const state = new Map();
  const visit = (idx) => {
    if (state.get(idx) === 'done') return;
    if (state.get(idx) === 'visiting') throw new InvalidJob(`stage ${idx} is in a cycle`);
    state.set(idx, 'visiting');
    for (const i of byIndex.get(idx).inputs) {
      if (i.fromStage === undefined) continue;
      const from = byIndex.get(i.fromStage);
      if (!from) throw new InvalidJob(`stage ${idx}: fromStage ${i.fromStage} does not exist`);
      if (i.index >= from.quantity)
        throw new InvalidJob(`stage ${idx}: index ${i.index} of stage ${i.fromStage} too large`);
      visit(i.fromStage);
    }
    state.set(idx, 'done');
    ordered.push(byIndex.get(idx));
  };
  for (const idx of byIndex.keys()) visit(idx);
  return { stages: ordered, aspectRatio: input.aspectRatio };
}

function keyIsSafe(key) {
  return key && !key.startsWith('/') && !key.includes('\\') && !key.includes('://')
    && !key.split('/').includes('..') && !/%2e|%2f/i.test(key);
}

function sniffMime(buf) {
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47) return 'image/png';
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'image/jpeg';
  if (buf.length >= 12 && buf.toString('latin1', 0, 4) === 'RIFF'
      && buf.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return null;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// One model call with the contract's retry rule (429, 5xx: backoff, 5 tries).
async function generate(prompt, images, aspectRatio) {
  const body = JSON.stringify({
    contents: [{ role: 'user', parts: [{ text: prompt },
      ...images.map((i) => ({ inlineData: { mimeType: i.mime, data: i.bytes.toString('base64') } }))] }],
    generationConfig: { responseModalities: ['IMAGE'],
                        ...(aspectRatio ? { imageConfig: { aspectRatio } } : {}) },
  });
  for (let attempt = 1; ; ++attempt) {
    const res = await fetch(geminiUrl, { method: 'POST', body,
      headers: { 'content-type': 'application/json', 'x-goog-api-key': geminiKey } });
    if (res.ok) {
      const reply = await res.json();
      for (const part of reply.candidates?.[0]?.content?.parts ?? [])
        if (part.inlineData?.data && !part.thought)
          return Buffer.from(part.inlineData.data, 'base64');
      throw new Error('the model returned no image');
    }
    await res.arrayBuffer();
    if ((res.status !== 429 && res.status < 500) || attempt >= 5)
      throw new Error(`model call failed: HTTP ${res.status}`);
    await sleep(Math.random() * Math.min(60000, 1000 * 2 ** (attempt - 1)));
  }
}

// Charge, attach row, credit log and progress in one statement (one
// transaction): nothing is written unless the organisation can pay.
const COMMIT_IMAGE = `
WITH charge AS (
  UPDATE quel_organization SET org_credit = org_credit - $2, updated_at = now()
   WHERE org_id = $1 AND org_credit >= $2
  RETURNING org_id, org_credit),
att AS (
  INSERT INTO quel_attach (attach_original_name, attach_file_name, attach_file_path,
                           attach_file_size, attach_file_type, org_id)
  SELECT $3, $3, $4, $5, 'image/png', org_id FROM charge
  RETURNING attach_id),
credit AS (
  INSERT INTO quel_credit_log (org_id, job_id, attach_id, amount, balance_after, reason)
  SELECT charge.org_id, $6, att.attach_id, -$2::bigint, charge.org_credit, 'image_generation'
    FROM charge, att),
progress AS (
  UPDATE quel_production_jobs
     SET completed_images = completed_images + 1,
         generated_attach_ids = generated_attach_ids || to_jsonb(att.attach_id),
         updated_at = now()
    FROM att WHERE job_id = $6)
SELECT attach_id FROM att`;

// The same without a charge, for jobs whose org_id is NULL.
const COMMIT_IMAGE_FREE = `
WITH att AS (
  INSERT INTO quel_attach (attach_original_name, attach_file_name, attach_file_path,
                           attach_file_size, attach_file_type)
  VALUES ($1, $1, $2, $3, 'image/png') RETURNING attach_id),
progress AS (
  UPDATE quel_production_jobs
     SET completed_images = completed_images + 1,
         generated_attach_ids = generated_attach_ids || to_jsonb(att.attach_id),
         updated_at = now()
    FROM att WHERE job_id = $4)
SELECT attach_id FROM att`;

const FINISH = `
WITH job AS (
  UPDATE quel_production_jobs
     SET job_status = $2, failed_images = $3, error_message = $4,
         completed_at = now(), updated_at = now()
   WHERE job_id = $1 RETURNING production_id)
UPDATE quel_production_photo p
   SET attach_ids = p.attach_ids || $5::jsonb, production_status = $2, updated_at = now()
  FROM job WHERE p.production_id = job.production_id`;

async function failInvalid(jobId, message) {
  await pool.query(`
    WITH job AS (
      UPDATE quel_production_jobs SET job_status = 'failed', error_message = $2,
             completed_at = now(), updated_at = now()
       WHERE job_id = $1 RETURNING production_id)
    UPDATE quel_production_photo p SET production_status = 'failed', updated_at = now()
      FROM job WHERE p.production_id = job.production_id`, [jobId, message]);
}

async function processJob(jobId) {
  const { rows } = await pool.query(
    `SELECT job_id, org_id, production_id, job_type, job_status, job_input_data
       FROM quel_production_jobs WHERE job_id = $1`, [jobId]);
  if (rows.length === 0) throw new Error(`no job ${jobId}`);
  const row = rows[0];
  if (row.job_status === 'completed' || row.job_status === 'failed') return 'skipped';

  let spec;
  let attach;
  try {
    spec = parseJob(row);
    const ids = [...new Set(spec.stages.flatMap((s) => s.inputs)
      .filter((i) => i.attachId !== undefined).map((i) => i.attachId))];
    const res = await pool.query(`SELECT attach_id, attach_file_path, attach_directory
                                    FROM quel_attach WHERE attach_id = ANY($1::bigint[])`, [ids]);
    attach = new Map(res.rows.map((r) => [Number(r.attach_id),
                                          r.attach_file_path || r.attach_directory]));
    for (const id of ids)
      if (!keyIsSafe(attach.get(id))) throw new InvalidJob(`attach ${id} is missing or has no valid key`);
  } catch (e) {
    if (!(e instanceof InvalidJob)) throw e;
    await failInvalid(jobId, e.message);
    return 'failed';
  }

  const total = spec.stages.reduce((n, s) => n + s.quantity, 0);
  await pool.query(`
    WITH job AS (
      UPDATE quel_production_jobs SET job_status = 'processing', total_images = $2,
             started_at = coalesce(started_at, now()), updated_at = now()
       WHERE job_id = $1 RETURNING production_id)
    UPDATE quel_production_photo p SET production_status = 'processing', updated_at = now()
      FROM job WHERE p.production_id = job.production_id`, [jobId, total]);

  const made = new Map();     // stage index -> [{ attachId, bytes } | null]
  const failures = [];
  // Stages are in dependency order; independent stages run side by side.
  const done = new Map();
  const runStage = async (stage) => {
    await Promise.all(stage.inputs.filter((i) => i.fromStage !== undefined)
      .map((i) => done.get(i.fromStage)));
    const images = await Promise.all(stage.inputs.map(async (i) => {
      if (i.fromStage !== undefined) {
        const from = made.get(i.fromStage)[i.index];
        if (!from) throw new Error(`stage ${i.fromStage} image ${i.index} was not made`);
        return { mime: 'image/png', bytes: from.bytes };
      }
      const bytes = await fs.readFile(path.join(storageDir, bucket, attach.get(i.attachId)));
      const mime = sniffMime(bytes);
      if (!mime) throw new Error(`attach ${i.attachId} is not an image`);
      return { mime, bytes };
    }));
    const prompt = `${stage.prompt}\n\n${stage.inputs.map((i, k) => `Image ${k + 1}: ${i.type}`).join('\n')}`;
    const results = await Promise.all(Array.from({ length: stage.quantity }, async (_, k) => {
      try {
        const png = await generate(prompt, images, spec.aspectRatio);
        if (sniffMime(png) !== 'image/png') throw new Error('the model image is not a PNG');
        const key = `generated/${jobId}/s${stage.index}-i${k}.png`;
        const file = path.join(storageDir, bucket, key);
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, png);
        const name = path.basename(key);
        const res = row.org_id
          ? await pool.query(COMMIT_IMAGE, [row.org_id, cost, name, key, png.length, jobId])
          : await pool.query(COMMIT_IMAGE_FREE, [name, key, png.length, jobId]);
        if (res.rows.length === 0) {
          await fs.unlink(file);
          throw new Error('credits ran out');
        }
        return { attachId: Number(res.rows[0].attach_id), bytes: png };
      } catch (e) {
        failures.push(`stage ${stage.index} image ${k}: ${e.message}`);
        return null;
      }
    }));
    made.set(stage.index, results);
  };
  for (const stage of spec.stages) done.set(stage.index, runStage(stage).catch((e) => {
    failures.push(`stage ${stage.index}: ${e.message}`);
    made.set(stage.index, Array(stage.quantity).fill(null));
  }));
  await Promise.all(done.values());

  const ids = [...spec.stages].sort((a, b) => a.index - b.index)
    .flatMap((s) => made.get(s.index)).filter(Boolean).map((m) => m.attachId);
  const failed = total - ids.length;
  await pool.query(FINISH, [jobId, failed ? 'failed' : 'completed', failed,
    failed ? `${failed} of ${total} images failed: ${failures.join('; ')}` : null,
    JSON.stringify(ids)]);
  return failed ? 'failed' : 'completed';
}

async function main() {
  const connection = new IORedis(env('PEER_REDIS_URL', 'redis://127.0.0.1:6379/0'),
                                 { maxRetriesPerRequest: null });
  let finished = 0;
  const worker = new Worker(queueName, async (job) => processJob(job.data.jobId),
                            { connection, concurrency, removeOnComplete: { count: 0 },
                              removeOnFail: { count: 1000 } });
  worker.on('completed', () => { finished += 1; });
  worker.on('failed', (job, err) => console.error(`job ${job?.data?.jobId}: ${err.message}`));
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await worker.close();
    await pool.end();
    connection.disconnect();
    console.log(`peer done ${finished}`);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (env('PEER_DRAIN', '0') === '1') {
    // 'drained' fires when no job is waiting; close() then waits for the
    // active ones, so the process exits with every job finished.
    worker.on('drained', stop);
  }
  console.log('peer ready');
}

main().catch((e) => { console.error(e); process.exit(1); });
