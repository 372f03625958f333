'use strict';
// --name=value and --flag arguments, with defaults and a --smoke preset.
function parseArgs(argv, defaults, smoke) {
  const out = { ...defaults };
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`bad argument ${a}`);
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (key === 'smoke') { Object.assign(out, smoke, { smoke: true }); continue; }
    if (!(key in defaults) && key !== 'smoke') throw new Error(`unknown option --${m[1]}`);
    const d = defaults[key];
    out[key] = m[2] === undefined ? true
      : Array.isArray(d) ? m[2].split(',').map(Number)
        : typeof d === 'number' ? Number(m[2])
          : typeof d === 'boolean' ? !['false', '0', 'no'].includes(m[2]) : m[2];
    if (typeof out[key] === 'number' && !Number.isFinite(out[key])) throw new Error(`--${m[1]} needs a number`);
  }
  return out;
}
module.exports = { parseArgs };
