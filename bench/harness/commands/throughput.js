'use strict';
// Benchmark 1: throughput. N jobs x 4 images (2 stages x 2), the Gemini
// stand-in answering at once, local storage. quel-worker vs the BullMQ peer,
// interleaved rounds (the order alternates), each on freshly seeded data;
// then quel-worker with QUEL_GENERATOR=noop vs a pgbench replay of its own
// statements on the same data (the database's ceiling for them).
// --base-bin=PATH adds a third side, another quel-worker binary (a build
// before a change), interleaved with the others in every round, so a
// change is measured against its baseline in the same invocation.
// Every quel-worker side runs with storage.local_sync=false, as the peer
// does not sync its files either; --synced adds a side with it on (the
// default in production), interleaved too, to show what syncing costs.
const { openContext } = require('../lib/context');
const { startStandin } = require('../lib/standin');
const { runSide } = require('../lib/sides');
const { pgCpuSeconds } = require('../lib/proc');
const { startCapture, stopCapture, parseStatements, buildScripts, replay } = require('../lib/replay');
const { parseArgs } = require('../lib/args');
const { spread, fmt, table, median } = require('../lib/stats');

async function measured(ctx, side, jobs, opts) {
  const ids = await ctx.db.reset(jobs);
  const pg0 = pgCpuSeconds();
  const st0 = ctx.standin ? ctx.standin.cpu() : 0;
  const r = await runSide(ctx, side, ids, opts);
  const pg1 = pgCpuSeconds();
  const st1 = ctx.standin ? ctx.standin.cpu() : 0;
  await ctx.db.verify(jobs, ctx.storageDir);
  const window = await ctx.db.windowSeconds();
  const images = 4 * jobs;
  return { images, ips: images / window, wallIps: images / r.wall, workerMs: (1000 * r.cpu) / images,
           pgMs: (1000 * (pg1 - pg0)) / images, standinMs: (1000 * (st1 - st0)) / images,
           standinLoad: (st1 - st0) / r.wall, rss: r.peakRssMb, threads: r.peakThreads };
}

function row(name, runs, base) {
  const ips = runs.map((r) => r.ips);
  return [name, spread(ips, 0), fmt(median(runs.map((r) => r.wallIps)), 0),
          fmt(median(runs.map((r) => r.workerMs)), 2), fmt(median(runs.map((r) => r.pgMs)), 2),
          fmt(median(runs.map((r) => r.standinMs)), 2), fmt(median(runs.map((r) => r.standinLoad)), 2),
          fmt(median(runs.map((r) => r.rss)), 0), String(Math.max(...runs.map((r) => r.threads))),
          base ? fmt(median(ips) / base, 2) : (base === 0 ? '-' : '1.00')];
}

async function main(argv) {
  const o = parseArgs(argv, { jobs: 500, rounds: 3, peerConcurrency: 16, peerPool: 10, inflight: 64,
                              maxJobs: 16, noop: true, baseBin: '', peer: true, synced: false },
                      { jobs: 10, rounds: 1 });
  const ctx = await openContext();
  try {
    ctx.standin = await startStandin({ latencyMs: 0 });
    const oursEnv = { QUEL_MAX_INFLIGHT_IMAGES: String(o.inflight), QUEL_WORKER_MAX_JOBS: String(o.maxJobs) };
    const peerEnv = { PEER_CONCURRENCY: String(o.peerConcurrency), PEER_PG_POOL: String(o.peerPool) };
    const syncedEnv = { ...oursEnv, QUEL_STORAGE_LOCAL_SYNC: 'true' };
    const ours = []; const peer = []; const base = []; const synced = [];
    // --peer=false leaves the peer out (quick before/after runs with --base-bin).
    const sides = ['ours', ...(o.synced ? ['synced'] : []), ...(o.baseBin ? ['base'] : []),
                   ...(o.peer ? ['peer'] : [])];
    for (let round = 0; round < o.rounds; ++round) {
      // Each round rotates the order, so no side always runs first or last.
      const order = sides.map((_, i) => sides[(i + round) % sides.length]);
      for (const side of order) {
        const r = await measured(ctx, side === 'peer' ? 'peer' : 'ours', o.jobs,
                                 { env: side === 'peer' ? peerEnv : side === 'synced' ? syncedEnv : oursEnv,
                                   label: `${side}-${round}`,
                                   bin: side === 'base' ? o.baseBin : undefined });
        ({ ours, peer, base, synced })[side].push(r);
        console.error(`round ${round + 1} ${side}: ${fmt(r.ips, 0)} images/s, worker CPU ${fmt(r.workerMs, 2)} ms/image`);
      }
    }
    const header = ['worker', 'images/s median (min..max)', 'wall images/s', 'worker CPU ms/image',
                    'PostgreSQL CPU ms/image', 'stand-in CPU ms/image', 'stand-in cores busy',
                    'peak RSS MB', 'peak threads', 'vs peer'];
    const peerMedian = o.peer ? median(peer.map((r) => r.ips)) : 0;
    console.log(`\n### Throughput: ${o.jobs} jobs x 4 images, stand-in at once, ${o.rounds} interleaved rounds\n`);
    const rows = [row(`quel-worker (inflight ${o.inflight}, max_jobs ${o.maxJobs}, local_sync false)`, ours, peerMedian)];
    if (o.synced) rows.push(row('quel-worker, local_sync true (the default)', synced, peerMedian));
    if (o.baseBin) rows.push(row(`quel-worker baseline (${o.baseBin})`, base, peerMedian));
    if (o.peer) rows.push(row(`BullMQ peer (concurrency ${o.peerConcurrency}, pool ${o.peerPool})`, peer, peerMedian));
    console.log(table(header, rows));

    if (o.noop) {
      // Capture our statements once (untimed: logging every statement slows the server).
      const jobIds = await ctx.db.reset(o.jobs);
      const cap = await startCapture(ctx.db);
      await runSide(ctx, 'ours', jobIds, { generator: 'noop', env: oursEnv, label: 'capture' });
      const scripts = buildScripts(parseStatements(await stopCapture(ctx.db, cap)), jobIds);
      if (scripts.jobsSeen !== o.jobs)
        throw new Error(`replay capture found ${scripts.jobsSeen} of ${o.jobs} jobs in the statement log`);
      const noop = []; const noopBase = []; const ceiling = [];
      for (let round = 0; round < o.rounds; ++round) {
        const both = o.baseBin ? (round % 2 === 0 ? ['ours', 'base'] : ['base', 'ours']) : ['ours'];
        for (const side of both)
          (side === 'base' ? noopBase : noop).push(await measured(ctx, 'ours', o.jobs,
            { generator: 'noop', env: oursEnv, label: `noop-${side}-${round}`,
              bin: side === 'base' ? o.baseBin : undefined }));
        await ctx.db.reset(o.jobs);
        await ctx.db.detach();
        const pg0 = pgCpuSeconds();
        const rp = await replay(ctx.db.url, scripts.clients, ctx.workDir);
        const pg1 = pgCpuSeconds();
        await ctx.db.attach();
        const done = Number(await ctx.db.one('SELECT count(*) FROM quel_credit_log'));
        ceiling.push({ ips: (4 * o.jobs) / rp.wall, pgMs: (1000 * (pg1 - pg0)) / (4 * o.jobs),
                       failed: rp.failedClients, charges: done });
        console.error(`round ${round + 1}: noop ${fmt(noop[round].ips, 0)} (worker CPU ${fmt(noop[round].workerMs, 2)} ms/image)`
                      + `${o.baseBin ? `, baseline noop ${fmt(noopBase[round].ips, 0)} (${fmt(noopBase[round].workerMs, 2)})` : ''}`
                      + `, replay ${fmt(ceiling[round].ips, 0)} images/s`);
      }
      const c = median(ceiling.map((r) => r.ips));
      console.log(`\n### QUEL_GENERATOR=noop vs the database's ceiling for our statements\n`);
      console.log(table(['run', 'images/s median (min..max)', 'worker CPU ms/image', 'PostgreSQL CPU ms/image',
                         'share of ceiling'],
        [['quel-worker, noop generator', spread(noop.map((r) => r.ips), 0),
          fmt(median(noop.map((r) => r.workerMs)), 2), fmt(median(noop.map((r) => r.pgMs)), 2),
          `${fmt((100 * median(noop.map((r) => r.ips))) / c, 0)}%`],
         ...(o.baseBin ? [['quel-worker baseline, noop generator', spread(noopBase.map((r) => r.ips), 0),
          fmt(median(noopBase.map((r) => r.workerMs)), 2), fmt(median(noopBase.map((r) => r.pgMs)), 2),
          `${fmt((100 * median(noopBase.map((r) => r.ips))) / c, 0)}%`]] : []),
         [`pgbench replay (${scripts.clients.length} clients, ${scripts.statements} statements)`,
          spread(ceiling.map((r) => r.ips), 0), '-', fmt(median(ceiling.map((r) => r.pgMs)), 2), '100%']]));
      const failed = ceiling.reduce((k, r) => k + r.failed, 0);
      console.log(`\nreplay: ${failed} pgbench clients ended with an error; charges made by the replay: ${ceiling.map((r) => r.charges).join(', ')} (the worker makes ${4 * o.jobs})`);
      if (ceiling.some((r) => r.charges !== 4 * o.jobs))
        throw new Error('the replay did not redo every charge: its ceiling would not be for the same work');
    }
  } finally {
    await ctx.close();
  }
}

module.exports = { main, measured };
