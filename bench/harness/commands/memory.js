'use strict';
// Benchmark 4: memory per image in flight. Peak RSS of quel-worker with
// 1, 64 and 512 images in flight and inputs of 100 KB, 1 MB and 8 MB (two
// inputs per image), the stand-in holding every call for --latency-ms so
// that the in-flight limit is reached; the slope of peak RSS over in-flight
// images is the memory per image in flight. The target (issue 10) is
// <= 3 x (input + output bytes) + 64 KB per image.
const { openContext, writeInputs } = require('../lib/context');
const { startStandin } = require('../lib/standin');
const { runSide } = require('../lib/sides');
const { parseArgs } = require('../lib/args');
const { fmt, table } = require('../lib/stats');

async function main(argv) {
  const o = parseArgs(argv, { inflight: [1, 64, 512], sizesKb: [100, 1024, 8192], latencyMs: 2000,
                              maxBytesInFlight: 4096 },
                      { inflight: [1, 8], sizesKb: [100], latencyMs: 300 });
  const ctx = await openContext();
  try {
    ctx.standin = await startStandin({ latencyMs: o.latencyMs });
    const rows = [];
    for (const kb of o.sizesKb) {
      writeInputs(ctx.storageDir, kb * 1024);
      const peaks = [];
      for (const n of o.inflight) {
        // Each image's request carries 2 inputs base64-encoded; both the
        // worker and the stand-in hold them. Runs that would need more than
        // --max-bytes-in-flight MB of request bodies are skipped (the
        // machine's memory, not the worker, would be measured).
        const mb = (n * 2 * kb * 4) / 3 / 1024;
        if (mb > o.maxBytesInFlight) { peaks.push(null); rows.push([`${kb} KB`, String(n), 'skipped', '', '']); continue; }
        const jobs = Math.max(1, Math.ceil((2 * n) / 4)); // two waves of n images
        const ids = await ctx.db.reset(jobs);
        const r = await runSide(ctx, 'ours', ids, {
          label: `memory-${kb}-${n}`,
          env: { QUEL_MAX_INFLIGHT_IMAGES: String(n), QUEL_WORKER_MAX_JOBS: String(Math.max(16, Math.ceil(n / 4) + 1)) },
        });
        await ctx.db.verify(jobs, ctx.storageDir);
        peaks.push(r.peakRssMb);
        rows.push([`${kb} KB`, String(n), fmt(r.peakRssMb, 1), '', '']);
        console.error(`${kb} KB x ${n} in flight: ${fmt(r.peakRssMb, 1)} MB`);
      }
      const pts = o.inflight.map((n, i) => [n, peaks[i]]).filter(([, p]) => p !== null);
      if (pts.length >= 2) {
        const [n0, p0] = pts[0]; const [n1, p1] = pts[pts.length - 1];
        const slopeKb = ((p1 - p0) * 1024) / (n1 - n0);
        const targetKb = 3 * 2 * kb + 64; // output (a small PNG) left out: it is a few KB
        rows.push([`${kb} KB`, `slope ${n0}..${n1}`, '', `${fmt(slopeKb, 0)} KB/image`, `${fmt(targetKb, 0)} KB`]);
      }
    }
    console.log(`\n### Memory per image in flight (stand-in ${o.latencyMs} ms, 2 inputs per image)\n`);
    console.log(table(['input size', 'in flight', 'peak RSS MB', 'memory per image in flight', 'target'], rows));
  } finally {
    await ctx.close();
  }
}

module.exports = { main };
