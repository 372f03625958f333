#!/usr/bin/env node
// The benchmarks of issue 10, one subcommand each (bench/README.md):
//   throughput | roundtrips | slow | memory | latency | soak  [--smoke] [options]
// Run through scripts/bench.sh, which starts throwaway servers and sets
// QUEL_DATABASE_URL, QUEL_REDIS_URL, QUEL_WORKER_BIN and QUEL_BENCH_SERVICES.
'use strict';

const COMMANDS = ['throughput', 'roundtrips', 'slow', 'memory', 'latency', 'soak'];
const [cmd, ...rest] = process.argv.slice(2);
if (!COMMANDS.includes(cmd)) {
  console.error(`usage: bench.js ${COMMANDS.join('|')} [--smoke] [options]`);
  process.exit(2);
}
require(`./commands/${cmd}`).main(rest).then(() => process.exit(0), (e) => {
  console.error(`bench ${cmd}: ${e.stack || e.message}`);
  process.exit(1);
});
