'use strict';
// Benchmark 6: soak. quel-worker (`run`) under steady load for --duration
// seconds (20 minutes): stand-in at --latency-ms (200), --inflight (256)
// images in flight, a mix of jobs (8 in 10 good, 1 failing: its prompt trips
// the stand-in's blocked-prompt rule, 1 invalid: an unknown aspectRatio),
// topped up so the queue never runs dry. Every --every seconds (10): RSS,
// open descriptors, threads, PostgreSQL connections to quel_bench, the
// worker's Redis keys (all keys but the queue and the dead-letter list) and
// jobs finished. Growth is compared between the sample at --warmup-share of
// the run (minute 5 of 20) and the last; the target is < 5%.
const path = require('node:path');
const { openContext } = require('../lib/context');
const { startStandin } = require('../lib/standin');
const { oursEnv, clearRun } = require('../lib/sides');
const { runMeasured, readStatus, countFds } = require('../lib/proc');
const { parseArgs } = require('../lib/args');
const { fmt, table, median } = require('../lib/stats');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main(argv) {
  const o = parseArgs(argv, { duration: 1200, every: 10, latencyMs: 200, inflight: 256, backlog: 400,
                              warmupShare: 0.25 },
                      { duration: 25, every: 5, inflight: 32, backlog: 40 });
  const ctx = await openContext();
  try {
    ctx.standin = await startStandin({ latencyMs: o.latencyMs,
                                       script: [{ match: 'bench-blocked', respond: 'blocked_prompt' }] });
    await ctx.db.reset(0);
    await clearRun(ctx);
    let next = 0;
    const feed = async () => {
      const waiting = await ctx.redis.llen('jobs:queue');
      if (waiting >= o.backlog) return;
      const ids = await ctx.db.addJobs(next, o.backlog, { mix: true });
      next += o.backlog;
      await ctx.redis.lpush('jobs:queue', ...ids);
    };
    await feed();
    const run = runMeasured([ctx.workerBin, 'run'], {
      env: oursEnv(ctx, { extra: { QUEL_MAX_INFLIGHT_IMAGES: String(o.inflight),
                                   QUEL_WORKER_MAX_JOBS: String(Math.ceil(o.inflight / 4) + 16) } }),
      logFile: path.join(ctx.workDir, 'soak.log'), sampleMs: 200,
      timeoutMs: (o.duration + 120) * 1000 });
    const samples = [];
    const start = Date.now();
    let lastSample = start; // the first sample after one interval, once the worker runs
    while (Date.now() - start < o.duration * 1000) {
      await feed();
      if (Date.now() - lastSample >= o.every * 1000) {
        lastSample = Date.now();
        const pid = run.pid();
        const st = pid ? readStatus(pid) : null;
        const keys = (await ctx.redis.keys('*')).filter((k) => k !== 'jobs:queue' && k !== 'jobs:dead');
        const conns = Number(await ctx.db.one(`SELECT count(*) FROM pg_stat_activity
           WHERE datname = 'quel_bench' AND pid <> pg_backend_pid()`));
        const done = Number(await ctx.db.one(`SELECT count(*) FROM quel_production_jobs
           WHERE job_status IN ('completed', 'failed')`));
        samples.push({ t: Math.round((Date.now() - start) / 1000), rss: (st?.VmRSS ?? NaN) / 1024,
                       fds: pid ? countFds(pid) : NaN, threads: st?.Threads ?? NaN, conns, keys: keys.length, done });
      }
      await sleep(250);
    }
    run.kill('SIGTERM');
    const r = await run.done;
    if (r.code !== 0) throw new Error(`the worker exited with ${r.code} after SIGTERM`);
    const c = (await ctx.db.query(`SELECT
        count(*) FILTER (WHERE job_status = 'processing')::int AS stuck,
        count(*) FILTER (WHERE job_status = 'completed' AND job_input_data->>'aspectRatio' = '3:4'
                           AND NOT job_input_data::text LIKE '%bench-blocked%' AND completed_images = 4)::int AS good,
        count(*) FILTER (WHERE job_status = 'failed' AND job_input_data::text LIKE '%bench-blocked%'
                           AND completed_images = 2 AND failed_images = 2)::int AS failing,
        count(*) FILTER (WHERE job_status = 'failed' AND job_input_data->>'aspectRatio' = '7:7'
                           AND total_images = 0)::int AS invalid,
        count(*) FILTER (WHERE job_status IN ('completed', 'failed'))::int AS finished
      FROM quel_production_jobs`)).rows[0];
    if (c.stuck !== 0) throw new Error(`${c.stuck} jobs left processing after SIGTERM`);
    if (c.good + c.failing + c.invalid !== c.finished || c.good === 0 || c.failing === 0 || c.invalid === 0)
      throw new Error(`unexpected outcomes: ${JSON.stringify(c)}`);
    console.log(`\n### Soak: ${o.duration} s, stand-in ${o.latencyMs} ms, ${o.inflight} in flight, samples every ${o.every} s\n`);
    console.log(table(['t s', 'RSS MB', 'fds', 'threads', 'PG connections', 'worker Redis keys', 'jobs finished'],
      samples.map((s) => [String(s.t), fmt(s.rss, 1), String(s.fds), String(s.threads), String(s.conns),
                          String(s.keys), String(s.done)])));
    // Medians of one minute of samples at the end of the warm-up and at the
    // end of the run: descriptors move with the open HTTP connections, and
    // two single samples would compare two random points of that.
    const w = Math.max(1, Math.min(Math.round(60 / o.every), Math.floor(samples.length / 2)));
    const i0 = Math.min(samples.length - w, Math.floor(samples.length * o.warmupShare));
    const early = samples.slice(i0, i0 + w);
    const late = samples.slice(samples.length - w);
    const from = early[0];
    const to = late[late.length - 1];
    const growth = (key) => {
      const a = median(early.map((x) => x[key])); const b = median(late.map((x) => x[key]));
      return `${fmt(a, 1)} -> ${fmt(b, 1)} (${fmt((100 * (b - a)) / Math.max(a, 1e-9), 1)}%)`;
    };
    console.log(`\ngrowth, median of ${w} samples from t=${from.t} s vs the last ${w} (to t=${to.t} s): ` +
                `RSS MB ${growth('rss')}, fds ${growth('fds')}, ` +
                `PG connections ${growth('conns')}, Redis keys ${growth('keys')}; ` +
                `finished ${c.finished} jobs (${c.good} completed, ${c.failing} failing, ${c.invalid} invalid), ` +
                `${fmt((to.done - from.done) / Math.max(1, to.t - from.t), 1)} jobs/s after warm-up`);
  } finally {
    await ctx.close();
  }
}

module.exports = { main };
