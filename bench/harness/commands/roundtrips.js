'use strict';
// Benchmark 2: round trips. One run of each worker over N jobs with the
// stand-in answering at once: PostgreSQL statements and transactions per
// image and per job (pg_stat_statements and pg_stat_database of quel_bench,
// where nothing but the measured worker is connected during the run) and
// Redis commands per job (INFO commandstats, reset after the ids are queued).
const { openContext } = require('../lib/context');
const { startStandin } = require('../lib/standin');
const { runSide } = require('../lib/sides');
const { parseArgs } = require('../lib/args');
const { fmt, table } = require('../lib/stats');

const CONTROL = /^\s*(BEGIN|COMMIT|ROLLBACK|END|START TRANSACTION|SET|SHOW|DISCARD|RESET|DEALLOCATE)\b/i;

async function commandStats(redis) {
  const out = {};
  for (const line of (await redis.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

async function measure(ctx, side, jobs) {
  const ids = await ctx.db.reset(jobs);
  let xact0 = 0;
  await runSide(ctx, side, ids, {
    label: `roundtrips-${side}`,
    before: async () => {
      await ctx.db.detach();
      xact0 = await ctx.db.serverTransactions();
      await ctx.db.resetStatements();
      await ctx.redis.config('RESETSTAT');
    },
  });
  const redis = await commandStats(ctx.redis);
  redis.info = Math.max(0, (redis.info ?? 0) - 1); // our own INFO
  delete redis['config|resetstat'];
  if (redis.info === 0) delete redis.info;
  const xacts = (await ctx.db.serverTransactions()) - xact0;
  const statements = await ctx.db.statements();
  await ctx.db.attach();
  await ctx.db.verify(jobs, ctx.storageDir);
  const calls = statements.reduce((k, s) => k + s.calls, 0);
  const control = statements.filter((s) => CONTROL.test(s.query)).reduce((k, s) => k + s.calls, 0);
  return { side, jobs, images: 4 * jobs, calls, control, xacts, statements, redis };
}

function summary(r) {
  const redisTotal = Object.values(r.redis).reduce((a, b) => a + b, 0);
  return [r.side === 'ours' ? 'quel-worker' : 'BullMQ peer',
          fmt((r.calls - r.control) / r.images, 2), fmt(r.calls / r.images, 2), fmt(r.xacts / r.images, 2),
          fmt((r.calls - r.control) / r.jobs, 2), fmt(r.calls / r.jobs, 2), fmt(r.xacts / r.jobs, 2),
          fmt(redisTotal / r.jobs, 1)];
}

async function main(argv) {
  const o = parseArgs(argv, { jobs: 200 }, { jobs: 5 });
  const ctx = await openContext();
  try {
    ctx.standin = await startStandin({ latencyMs: 0 });
    const results = [];
    for (const side of ['ours', 'peer']) results.push(await measure(ctx, side, o.jobs));
    if (!ctx.db.pgStatStatements)
      console.log('pg_stat_statements is not loaded: statement counts are missing (scripts/local-services.sh loads it when installed)');
    for (const r of results)
      if (r.calls === 0 && ctx.db.pgStatStatements) throw new Error(`${r.side}: pg_stat_statements counted nothing`);
    console.log(`\n### Round trips: ${o.jobs} jobs x 4 images\n`);
    console.log(table(['worker', 'statements/image', 'round trips/image (incl. BEGIN/COMMIT)', 'transactions/image',
                       'statements/job', 'round trips/job', 'transactions/job', 'Redis commands/job'],
                      results.map(summary)));
    for (const r of results) {
      console.log(`\n#### ${r.side === 'ours' ? 'quel-worker' : 'BullMQ peer'}: statements by calls\n`);
      console.log(table(['calls/job', 'calls/image', 'ms/call', 'statement'],
        r.statements.map((s) => [fmt(s.calls / r.jobs, 2), fmt(s.calls / r.images, 2),
                                 fmt(s.ms / Math.max(1, s.calls), 3),
                                 `\`${s.query.replace(/\s+/g, ' ').slice(0, 90)}\``])));
      console.log(`\n#### ${r.side === 'ours' ? 'quel-worker' : 'BullMQ peer'}: Redis commands per job\n`);
      console.log(table(['command', 'calls/job'],
        Object.entries(r.redis).sort((a, b) => b[1] - a[1]).map(([c, n]) => [c, fmt(n / r.jobs, 2)])));
    }
  } finally {
    await ctx.close();
  }
}

module.exports = { main };
