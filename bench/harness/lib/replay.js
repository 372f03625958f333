'use strict';
// The database's own ceiling for our statements: the statements quel-worker
// sent in one run (logged by the server with their parameters), replayed by
// pgbench on the same freshly seeded data, without the worker.
//
// Capture: log_statement=all on quel_bench for one (untimed) run. Replay:
// the statements are grouped per job (a BEGIN..COMMIT block, or a lone
// statement, belongs to the first seeded job id it names; blocks naming no
// job, such as lease renewals and idle polling, are left out), each job's
// statements keep their logged order, and the jobs are dealt round-robin to
// as many pgbench clients as the worker had connections. Each client is its
// own `pgbench -c1 -t1` process running its jobs back to back; the ceiling is
// images / wall time from the first start to the last end.
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const PREFIX = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+) \[(\d+)\] (\w+):  (.*)$/;

function serverLog() {
  return path.join(process.env.QUEL_BENCH_SERVICES ?? '', 'pg', 'server.log');
}

async function startCapture(db) {
  await db.admin.query("ALTER SYSTEM SET log_line_prefix = '%m [%p] '");
  await db.admin.query('SELECT pg_reload_conf()');
  await db.admin.query("ALTER DATABASE quel_bench SET log_statement = 'all'");
  const file = serverLog();
  return { file, offset: fs.existsSync(file) ? fs.statSync(file).size : 0 };
}

async function stopCapture(db, capture) {
  await db.admin.query('ALTER DATABASE quel_bench RESET log_statement');
  const fd = fs.openSync(capture.file, 'r');
  const size = fs.fstatSync(fd).size;
  const buf = Buffer.alloc(size - capture.offset);
  fs.readSync(fd, buf, 0, buf.length, capture.offset);
  fs.closeSync(fd);
  return buf.toString('utf8');
}

// Log entries (continuation lines joined) -> [{ pid, sql }] with parameters inlined.
function parseStatements(text) {
  const entries = [];
  for (const line of text.split('\n')) {
    const m = PREFIX.exec(line);
    if (m) entries.push({ pid: Number(m[2]), level: m[3], msg: m[4] });
    else if (entries.length) entries[entries.length - 1].msg += `\n${line}`;
  }
  const out = [];
  const pending = new Map(); // pid -> statement waiting for its DETAIL
  for (const e of entries) {
    if (e.level === 'LOG') {
      const s = /^statement: ([\s\S]*)$/.exec(e.msg);
      const x = /^execute [^:]*: ([\s\S]*)$/.exec(e.msg);
      if (s) out.push({ pid: e.pid, sql: s[1] });
      else if (x) { const st = { pid: e.pid, sql: x[1] }; out.push(st); pending.set(e.pid, st); }
    } else if (e.level === 'DETAIL' && pending.has(e.pid)) {
      const st = pending.get(e.pid);
      pending.delete(e.pid);
      const params = {};
      for (const p of e.msg.matchAll(/\$(\d+) = (NULL|'(?:[^']|'')*')/g)) params[p[1]] = p[2];
      st.sql = st.sql.replace(/\$(\d+)/g, (all, n) => (n in params ? params[n] : all));
    }
  }
  return out;
}

// A shard's grouped commit (`quel_worker_commit_images`, docs/ARCHITECTURE.md)
// may carry images of several jobs in one statement. Replayed inside one
// job's script it would run before the other jobs' claims and holds (which
// are in other clients' scripts) and be refused, so such a unit is split
// into one grouped call per job, in the same transaction shape: the replay
// keeps the grouped function and each job's order, not the cross-job grouping.
const GROUPED = /quel_worker_commit_images\('((?:[^']|'')*)'(::jsonb)?\)/;
function splitGroupedCommit(unit, known) {
  const at = unit.sql.findIndex((sql) => GROUPED.test(sql));
  if (at < 0) return [unit];
  const m = GROUPED.exec(unit.sql[at]);
  let images;
  try { images = JSON.parse(m[1].replace(/''/g, "'")); } catch { return [unit]; }
  const perJob = new Map();
  for (const img of images) {
    if (!known.has(img.job_id)) continue;
    if (!perJob.has(img.job_id)) perJob.set(img.job_id, []);
    perJob.get(img.job_id).push(img);
  }
  if (perJob.size <= 1) return [unit];
  return [...perJob].map(([job, imgs]) => {
    const text = JSON.stringify(imgs.map((img, i) => ({ ...img, i }))).replace(/'/g, "''");
    const sql = [...unit.sql];
    sql[at] = sql[at].replace(GROUPED, `quel_worker_commit_images('${text}'${m[2] ?? ''})`);
    return { pid: unit.pid, sql, job };
  });
}

// -> { clients: [sql text], jobsSeen, units }
function buildScripts(statements, jobIds, clientCount) {
  const known = new Set(jobIds);
  const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
  const jobOf = (sql) => { for (const m of sql.matchAll(uuid)) if (known.has(m[0])) return m[0]; return null; };
  const open = new Map(); // pid -> current block
  const units = [];
  for (const st of statements) {
    const sql = st.sql.trim().replace(/;+\s*$/, '');
    let block = open.get(st.pid);
    if (/^(BEGIN|START TRANSACTION)\b/i.test(sql)) {
      block = { pid: st.pid, sql: [sql], job: null };
      open.set(st.pid, block);
      units.push(block);
      continue;
    }
    if (block) {
      block.sql.push(sql);
      block.job = block.job ?? jobOf(sql);
      if (/^(COMMIT|END|ROLLBACK)\b/i.test(sql)) open.delete(st.pid);
      continue;
    }
    units.push({ pid: st.pid, sql: [sql], job: jobOf(sql) });
  }
  const byJob = new Map();
  const pids = new Set();
  for (const u of units.flatMap((unit) => splitGroupedCommit(unit, known))) {
    if (!u.job) continue;
    pids.add(u.pid);
    if (!byJob.has(u.job)) byJob.set(u.job, []);
    byJob.get(u.job).push(u);
  }
  const n = Math.max(1, clientCount ?? pids.size);
  const clients = Array.from({ length: n }, () => []);
  [...byJob.values()].forEach((us, i) => {
    for (const u of us) clients[i % n].push(...u.sql.map((s) => `${s};`));
  });
  return { clients: clients.filter((c) => c.length).map((c) => `${c.join('\n')}\n`),
           jobsSeen: byJob.size, workerConnections: pids.size,
           statements: units.filter((u) => u.job).reduce((k, u) => k + u.sql.length, 0) };
}

// Runs every client script at once; resolves { wall, failedClients }.
async function replay(url, scripts, dir) {
  const start = Date.now();
  const runs = scripts.map((text, i) => {
    const file = path.join(dir, `replay-client-${i}.sql`);
    fs.writeFileSync(file, text);
    return new Promise((resolve) => {
      const log = fs.openSync(path.join(dir, `replay-client-${i}.log`), 'w');
      const p = spawn('pgbench', ['-n', '-c', '1', '-t', '1', '-f', file, url],
                      { stdio: ['ignore', log, log] });
      fs.closeSync(log);
      p.on('exit', (code) => resolve(code));
    });
  });
  const codes = await Promise.all(runs);
  // Each client's own time for its script ("latency average" of its one
  // transaction), without process start and connecting: the longest is the
  // replay's duration.
  let longest = 0;
  scripts.forEach((_, i) => {
    const m = /latency average = ([\d.]+) ms/.exec(fs.readFileSync(path.join(dir, `replay-client-${i}.log`), 'utf8'));
    if (m) longest = Math.max(longest, Number(m[1]) / 1000);
  });
  return { wall: longest || (Date.now() - start) / 1000, failedClients: codes.filter((c) => c !== 0).length };
}

module.exports = { startCapture, stopCapture, parseStatements, buildScripts, replay };
