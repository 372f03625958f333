'use strict';
// What every benchmark needs: the servers (QUEL_DATABASE_URL, QUEL_REDIS_URL,
// started by scripts/bench.sh), the worker binary (QUEL_WORKER_BIN), a work
// directory with local storage holding the seeded inputs, and a clean
// quel_bench database.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const IORedis = require('ioredis');
const { BenchDb, ORGS } = require('./db');
const { makePng } = require('./png');

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`set ${name} (scripts/bench.sh does)`);
  return v;
}

// Writes inputs/<org>/in<k>.png of about `bytes` bytes (the seeded attach rows' keys).
function writeInputs(storageDir, bytes) {
  for (let o = 0; o < ORGS; ++o) {
    const dir = path.join(storageDir, 'images', 'inputs', String(o));
    fs.mkdirSync(dir, { recursive: true });
    for (let k = 0; k < 4; ++k) fs.writeFileSync(path.join(dir, `in${k}.png`), makePng(bytes));
  }
}

async function openContext({ inputBytes = 4096 } = {}) {
  const workDir = fs.mkdtempSync(path.join(process.env.TMPDIR || os.tmpdir(), 'quel-bench-'));
  const ctx = {
    workDir,
    storageDir: path.join(workDir, 'storage'),
    workerBin: required('QUEL_WORKER_BIN'),
    redisUrl: required('QUEL_REDIS_URL'),
    db: new BenchDb(required('QUEL_DATABASE_URL')),
  };
  writeInputs(ctx.storageDir, inputBytes);
  await ctx.db.setup(ctx.workerBin);
  ctx.redis = new IORedis(ctx.redisUrl, { maxRetriesPerRequest: null });
  ctx.close = async () => {
    if (ctx.standin) ctx.standin.stop();
    ctx.redis.disconnect();
    await ctx.db.end();
  };
  return ctx;
}

module.exports = { openContext, writeInputs };
