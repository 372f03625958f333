'use strict';
// The two workers under comparison, each run over the same freshly seeded
// data until its queue is drained: quel-worker (`run --drain`, ids LPUSHed
// onto jobs:queue) and the BullMQ peer (the same ids added as BullMQ jobs,
// the peer exits when its queue is drained).
const fs = require('node:fs');
const path = require('node:path');
const { Queue } = require('bullmq');
const { runMeasured } = require('./proc');
const { cleanEnv, ROOT } = require('./db');

const PEER = path.join(ROOT, 'bench/peer-bullmq/peer.js');
const PEER_QUEUE = 'quel-bench';

function oursEnv(ctx, { generator = 'gemini', extra = {} } = {}) {
  return {
    ...cleanEnv(),
    QUEL_REDIS_URL: ctx.redisUrl,
    QUEL_DATABASE_URL: ctx.db.url,
    QUEL_STORAGE: 'local',
    QUEL_STORAGE_DIR: ctx.storageDir,
    QUEL_STORAGE_BUCKET: 'images',
    // The peer writes its files without syncing them, so ours does not
    // either (storage.local_sync, docs/PERFORMANCE.md); `throughput
    // --synced` measures what syncing costs.
    QUEL_STORAGE_LOCAL_SYNC: 'false',
    QUEL_HTTP_ADDR: 'off',
    // --drain checks for idleness at this interval; 1 s would add to wall time.
    QUEL_WORKER_HOUSEKEEPING_INTERVAL: '0.1',
    // The stand-in answers PNG and the peer stores it as it is: no conversion either side.
    QUEL_OUTPUT_FORMAT: 'png',
    QUEL_GENERATOR: generator,
    ...(generator === 'gemini' ? { QUEL_GEMINI_BASE_URL: ctx.standin.baseUrl,
                                   QUEL_GEMINI_API_KEY: 'bench-key' } : {}),
    ...extra,
  };
}

function peerEnv(ctx, extra = {}) {
  return {
    ...cleanEnv(),
    PEER_REDIS_URL: ctx.redisUrl,
    PEER_DATABASE_URL: ctx.db.url,
    PEER_STORAGE_DIR: ctx.storageDir,
    PEER_BUCKET: 'images',
    PEER_QUEUE,
    PEER_GEMINI_BASE_URL: ctx.standin?.baseUrl ?? '',
    PEER_GEMINI_KEY: 'bench-key',
    ...extra,
  };
}

// The previous run's outputs are moved aside, not deleted: they go when the
// benchmark's work directory does (scripts/bench.sh removes it on exit).
// Deleting thousands of files right before a run made every file the next
// run created walk past them: ext4 without a journal (this machine's disk)
// skips inodes freed in the last minutes when it allocates one
// (`recently_deleted` in the kernel), and that scan was more than half of
// quel-worker's CPU with the noop generator and a large share of the peer's
// file writes. A disk that keeps its outputs, as production does, never
// pays it; moved aside, both sides run on such a disk.
let setAside = 0;
async function clearRun(ctx) {
  const out = path.join(ctx.storageDir, 'images', 'generated');
  if (fs.existsSync(out)) {
    const old = path.join(ctx.workDir, 'old-outputs');
    fs.mkdirSync(old, { recursive: true });
    fs.renameSync(out, path.join(old, String(++setAside)));
  }
  await ctx.redis.flushdb();
}

async function pushOurs(ctx, ids) {
  for (let i = 0; i < ids.length; i += 1000)
    await ctx.redis.lpush('jobs:queue', ...ids.slice(i, i + 1000));
}

async function pushPeer(ctx, ids) {
  // A connection of its own: BullMQ does not close one it was given.
  const connection = ctx.redis.duplicate();
  const queue = new Queue(PEER_QUEUE, { connection });
  for (let i = 0; i < ids.length; i += 1000)
    await queue.addBulk(ids.slice(i, i + 1000).map((id) => ({ name: 'job', data: { jobId: id },
                                                              opts: { jobId: id } })));
  await queue.close();
  connection.disconnect();
}

// Runs one side to the end; `before` runs after the ids are queued and just
// before the process starts (statistics resets). Returns the process's figures.
// `bin` runs another quel-worker binary as 'ours' (--base-bin: before/after
// comparisons of two builds in one invocation).
async function runSide(ctx, side, ids, { env = {}, generator = 'gemini', before, label, timeoutMs, bin } = {}) {
  await clearRun(ctx);
  const logFile = path.join(ctx.workDir, `${label ?? side}.log`);
  let argv; let childEnv;
  if (side === 'ours') {
    await pushOurs(ctx, ids);
    argv = [bin ?? ctx.workerBin, 'run', '--drain'];
    childEnv = oursEnv(ctx, { generator, extra: env });
  } else {
    await pushPeer(ctx, ids);
    argv = [process.execPath, PEER];
    childEnv = peerEnv(ctx, { PEER_DRAIN: '1', ...env });
  }
  if (before) await before();
  const run = runMeasured(argv, { env: childEnv, logFile, timeoutMs });
  const r = await run.done;
  if (r.code !== 0) throw new Error(`${side} exited with ${r.code}${r.signal ? ` (${r.signal})` : ''}; log: ${logFile}`);
  return r;
}

module.exports = { runSide, oursEnv, peerEnv, clearRun, pushOurs, pushPeer, PEER, PEER_QUEUE };
