'use strict';
// Medians with min and max, percentiles, and Markdown tables.

function sorted(xs) { return [...xs].sort((a, b) => a - b); }
function median(xs) {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
// Nearest-rank percentile (p in 0..100).
function percentile(xs, p) {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
function fmt(x, digits = 1) {
  if (typeof x !== 'number') return String(x);
  if (!Number.isFinite(x)) return '-';
  return x.toLocaleString('en-US', { maximumFractionDigits: digits,
                                     minimumFractionDigits: digits });
}
function spread(xs, digits = 1) {
  return `${fmt(median(xs), digits)} (${fmt(Math.min(...xs), digits)}..${fmt(Math.max(...xs), digits)})`;
}
function table(header, rows) {
  const out = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of rows) out.push(`| ${r.join(' | ')} |`);
  return out.join('\n');
}

module.exports = { median, percentile, fmt, spread, table };
