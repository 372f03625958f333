'use strict';
// Child processes under measurement, and the CPU of PostgreSQL's processes.
const fs = require('node:fs');
const { spawn } = require('node:child_process');

const TICK = 100; // USER_HZ: /proc times are in 1/100 s on Linux

function readStatus(pid) {
  const out = {};
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/status`, 'latin1').split('\n')) {
      const m = /^(VmRSS|VmHWM|Threads):\s+(\d+)/.exec(line);
      if (m) out[m[1]] = Number(m[2]);
    }
  } catch { return null; }
  return out;
}
function countFds(pid) {
  try { return fs.readdirSync(`/proc/${pid}/fd`).length; } catch { return NaN; }
}
// [ppid, own ticks, reaped children's ticks] from /proc/<pid>/stat.
function statTimes(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return [Number(f[1]), Number(f[11]) + Number(f[12]), Number(f[13]) + Number(f[14])];
  } catch { return null; }
}
function cpuSeconds(pid) {
  const t = statTimes(pid);
  return t ? t[1] / TICK : NaN;
}
function childPids(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim()
      .split(/\s+/).filter(Boolean).map(Number);
  } catch { return []; }
}

// CPU seconds of a process tree: the root, every live descendant and every
// child already reaped (counted in the parent's cutime/cstime). PostgreSQL's
// backends are children of the postmaster, so a difference of two readings
// is the server's CPU in between, including backends that exited.
function treeCpuSeconds(rootPid) {
  const parent = new Map();
  const own = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const t = statTimes(Number(name));
    if (!t) continue;
    parent.set(Number(name), t[0]);
    own.set(Number(name), t);
  }
  let ticks = 0;
  for (const [pid, t] of own) {
    let p = pid;
    while (p && p !== rootPid) p = parent.get(p);
    if (p !== rootPid) continue;
    ticks += t[1] + (pid === rootPid ? t[2] : 0);
  }
  return ticks / TICK;
}

function postmasterPid() {
  const dir = process.env.QUEL_BENCH_SERVICES;
  if (!dir) return null;
  try { return Number(fs.readFileSync(`${dir}/pg/data/postmaster.pid`, 'latin1').split('\n')[0]); } catch { return null; }
}
function pgCpuSeconds() {
  const pid = postmasterPid();
  return pid ? treeCpuSeconds(pid) : NaN;
}

// Runs argv under /usr/bin/time (exact CPU and ru_maxrss at exit), sampling
// the child's RSS, peak RSS, threads and descriptors every `sampleMs`.
// Returns { pid(), done: Promise<result>, kill(signal), samples }.
function runMeasured(argv, { env, logFile, sampleMs = 20, timeoutMs = 600000, onSample } = {}) {
  const timeFile = `${logFile}.time`;
  const log = fs.openSync(logFile, 'a');
  const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, ...argv],
                      { env, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const start = Date.now();
  const peak = { rssKb: 0, hwmKb: 0, threads: 0, fds: 0 };
  let target = null;
  const timer = setInterval(() => {
    if (!target) target = childPids(child.pid)[0] ?? null;
    if (!target) return;
    const s = readStatus(target);
    if (!s) return;
    const fds = countFds(target);
    peak.rssKb = Math.max(peak.rssKb, s.VmRSS ?? 0);
    peak.hwmKb = Math.max(peak.hwmKb, s.VmHWM ?? 0);
    peak.threads = Math.max(peak.threads, s.Threads ?? 0);
    if (Number.isFinite(fds)) peak.fds = Math.max(peak.fds, fds);
    if (onSample) onSample({ pid: target, rssKb: s.VmRSS, threads: s.Threads, fds,
                             cpu: cpuSeconds(target), at: Date.now() - start });
  }, sampleMs);
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      clearTimeout(killer);
      let wall = (Date.now() - start) / 1000; let cpu = NaN; let maxRssKb = 0;
      try {
        const last = fs.readFileSync(timeFile, 'latin1').trim().split('\n').pop().split(' ');
        wall = Number(last[0]); cpu = Number(last[1]) + Number(last[2]); maxRssKb = Number(last[3]);
      } catch { /* killed before time wrote its line */ }
      resolve({ code: code ?? -1, signal, wall, cpu,
                peakRssMb: Math.max(maxRssKb, peak.hwmKb, peak.rssKb) / 1024,
                peakThreads: peak.threads, peakFds: peak.fds });
    });
  });
  return { child, done, pid: () => target ?? childPids(child.pid)[0],
           kill: (sig = 'SIGTERM') => { const p = target ?? childPids(child.pid)[0]; if (p) process.kill(p, sig); } };
}

module.exports = { runMeasured, pgCpuSeconds, cpuSeconds, readStatus, countFds, childPids };
