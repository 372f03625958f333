'use strict';
// Benchmark 3: slow model calls. The stand-in answers after --latency-ms
// (1 s); --images images (10,000) with --inflight calls in flight (1,000):
// images/s against the ideal (in flight / latency), OS threads, peak RSS.
// Both workers, each set to keep that many calls in flight.
const { openContext } = require('../lib/context');
const { startStandin } = require('../lib/standin');
const { runSide } = require('../lib/sides');
const { parseArgs } = require('../lib/args');
const { fmt, table } = require('../lib/stats');

async function main(argv) {
  const o = parseArgs(argv, { images: 10000, inflight: 1000, latencyMs: 1000, peer: true },
                      { images: 80, inflight: 40, latencyMs: 200 });
  const jobs = Math.ceil(o.images / 4);
  const ctx = await openContext();
  try {
    ctx.standin = await startStandin({ latencyMs: o.latencyMs });
    const ideal = o.inflight / (o.latencyMs / 1000);
    const rows = [];
    const sides = o.peer ? ['ours', 'peer'] : ['ours'];
    for (const side of sides) {
      const ids = await ctx.db.reset(jobs);
      const st0 = ctx.standin.cpu();
      const env = side === 'ours'
        ? { QUEL_MAX_INFLIGHT_IMAGES: String(o.inflight),
            QUEL_WORKER_MAX_JOBS: String(Math.max(16, Math.ceil(o.inflight / 4))) }
        // 4 images of a job are in flight at once (2 stages x 2, independent stages).
        : { PEER_CONCURRENCY: String(Math.ceil(o.inflight / 4)), PEER_PG_POOL: '20' };
      const r = await runSide(ctx, side, ids, { env, label: `slow-${side}` });
      const st1 = ctx.standin.cpu();
      await ctx.db.verify(jobs, ctx.storageDir);
      const ips = (4 * jobs) / (await ctx.db.windowSeconds());
      rows.push([side === 'ours' ? 'quel-worker' : 'BullMQ peer', fmt(ips, 0), fmt(ideal, 0),
                 `${fmt((100 * ips) / ideal, 0)}%`, String(r.peakThreads), fmt(r.peakRssMb, 0),
                 fmt(r.cpu, 1), fmt((st1 - st0) / r.wall, 2)]);
      console.error(`${side}: ${fmt(ips, 0)} images/s of ${fmt(ideal, 0)}`);
    }
    console.log(`\n### Slow model calls: ${4 * jobs} images, ${o.inflight} in flight, stand-in ${o.latencyMs} ms\n`);
    console.log(table(['worker', 'images/s', 'ideal', 'share of ideal', 'peak OS threads', 'peak RSS MB',
                       'worker CPU s', 'stand-in cores busy'], rows));
  } finally {
    await ctx.close();
  }
}

module.exports = { main };
