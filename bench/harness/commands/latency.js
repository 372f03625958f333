'use strict';
// Benchmark 5: pick-up latency. An idle worker (`quel-worker run`, or the
// peer), one job at a time: the time from the push (LPUSH, or BullMQ's
// Queue.add for the peer) to the job's started_at (set by the statement that
// marks it `processing`; server and harness share the machine's clock), each
// job completed before the next is pushed and a pause after it, so the
// worker is idle when the id arrives. p50 and p99 over --samples.
// --base-bin=PATH measures another quel-worker binary too (before/after).
const path = require('node:path');
const { Queue } = require('bullmq');
const { openContext } = require('../lib/context');
const { startStandin } = require('../lib/standin');
const { oursEnv, peerEnv, PEER, PEER_QUEUE, clearRun } = require('../lib/sides');
const { runMeasured } = require('../lib/proc');
const { parseArgs } = require('../lib/args');
const { fmt, table, percentile } = require('../lib/stats');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => performance.timeOrigin + performance.now();

async function waitFinished(db, id, timeoutMs = 30000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const r = (await db.query(`SELECT job_status, extract(epoch FROM started_at) * 1000 AS started
                                 FROM quel_production_jobs WHERE job_id = $1`, [id])).rows[0];
    if (r.job_status === 'completed') return Number(r.started);
    if (r.job_status === 'failed') throw new Error(`job ${id} failed`);
    await sleep(5);
  }
  throw new Error(`job ${id} not finished within ${timeoutMs} ms`);
}

async function measure(ctx, side, samples, pauseMs, bin) {
  const ids = await ctx.db.reset(samples);
  await clearRun(ctx);
  const run = side === 'ours'
    ? runMeasured([bin ?? ctx.workerBin, 'run'], { env: oursEnv(ctx), logFile: path.join(ctx.workDir, 'latency-ours.log') })
    : runMeasured([process.execPath, PEER], { env: peerEnv(ctx), logFile: path.join(ctx.workDir, 'latency-peer.log') });
  const connection = side === 'peer' ? ctx.redis.duplicate() : null;
  const queue = connection ? new Queue(PEER_QUEUE, { connection }) : null;
  await sleep(1500); // start-up, connections
  const lat = [];
  try {
    for (const id of ids) {
      const t0 = nowMs();
      if (queue) await queue.add('job', { jobId: id }, { jobId: id });
      else await ctx.redis.lpush('jobs:queue', id);
      lat.push((await waitFinished(ctx.db, id)) - t0);
      await sleep(pauseMs);
    }
  } finally {
    if (queue) { await queue.close(); connection.disconnect(); }
    run.kill('SIGTERM');
  }
  const r = await run.done;
  if (r.code !== 0) throw new Error(`${side} exited with ${r.code} after SIGTERM`);
  await ctx.db.verify(samples, ctx.storageDir);
  return lat;
}

async function main(argv) {
  const o = parseArgs(argv, { samples: 200, pauseMs: 50, peer: true, baseBin: '' }, { samples: 10 });
  const ctx = await openContext();
  try {
    ctx.standin = await startStandin({ latencyMs: 0 });
    const rows = [];
    const names = { ours: 'quel-worker (LPUSH)', base: `quel-worker baseline (${o.baseBin})`,
                    peer: 'BullMQ peer (Queue.add)' };
    for (const side of ['ours', ...(o.baseBin ? ['base'] : []), ...(o.peer ? ['peer'] : [])]) {
      const lat = await measure(ctx, side === 'base' ? 'ours' : side, o.samples, o.pauseMs,
                                side === 'base' ? o.baseBin : undefined);
      rows.push([names[side], fmt(percentile(lat, 50), 2),
                 fmt(percentile(lat, 99), 2), fmt(Math.max(...lat), 2)]);
    }
    console.log(`\n### Pick-up latency: push -> job processing, idle worker, ${o.samples} jobs one at a time\n`);
    console.log(table(['worker', 'p50 ms', 'p99 ms', 'max ms'], rows));
  } finally {
    await ctx.close();
  }
}

module.exports = { main };
