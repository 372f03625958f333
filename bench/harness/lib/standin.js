'use strict';
// The Gemini stand-in (tests/standins/gemini_standin.py: the real
// generateContent wire format) on a free loopback port, with its CPU time.
const path = require('node:path');
const { spawn } = require('node:child_process');
const { cpuSeconds } = require('./proc');
const { ROOT } = require('./db');

async function startStandin({ latencyMs = 0, script = [] } = {}) {
  const child = spawn('python3', [path.join(ROOT, 'tests/standins/gemini_standin.py'), '--port', '0',
                                  '--latency-ms', String(latencyMs), '--parent-pid', String(process.pid)],
                      { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /ready (\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`gemini stand-in exited with ${code}`)));
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  const control = async (body) => {
    const res = await fetch(`${baseUrl}/__control`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`stand-in control: HTTP ${res.status}`);
  };
  if (script.length) await control({ script });
  return {
    baseUrl,
    control,
    cpu: () => cpuSeconds(child.pid),
    stats: async () => (await fetch(`${baseUrl}/__stats`)).json(),
    stop: () => child.kill('SIGTERM'),
  };
}

module.exports = { startStandin };
