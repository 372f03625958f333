// The quel-worker dashboard: plain JavaScript over the worker's JSON API
// (/api/...), no build step. Every value from the API is put into the page
// as text (textContent), never as HTML. Pages are chosen by the URL's hash
// and redrawn by polling every few seconds.
'use strict';

const POLL_MS = 2000;
const PAGE_SIZE = 50;
let actionsEnabled = false;
let timer = null;
let drawing = false;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    // Through the CSSOM: the Content-Security-Policy refuses style attributes.
    else if (k === 'style') e.style.cssText = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

async function api(path, options) {
  const r = await fetch(path, options);
  let body = null;
  try { body = await r.json(); } catch (e) { body = { error: r.statusText }; }
  if (!r.ok) throw Object.assign(new Error(body.error || r.statusText), { status: r.status });
  return body;
}

function token() { return sessionStorage.getItem('quel-admin-token') || ''; }

function notice(text, bad) {
  const n = document.getElementById('notice');
  n.textContent = text;
  n.className = bad ? 'bad' : 'good';
}

async function action(what, id) {
  const headers = {};
  if (token()) headers['X-Quel-Admin-Token'] = token();
  try {
    const r = await api('/api/action?do=' + encodeURIComponent(what) + '&id=' + encodeURIComponent(id),
                        { method: 'POST', headers });
    const msg = Array.isArray(r.message) ? r.message.join('; ') : r.message;
    notice(msg, !r.ok);
  } catch (e) {
    notice(what + ' refused: ' + e.message, true);
  }
  draw();
}

function actionButton(label, what, id) {
  return el('button', { type: 'button', class: 'action', 'data-action': what, 'data-id': id,
                        onclick: () => action(what, id) }, label);
}

function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds) || seconds < 0) return '-';
  const s = Math.floor(seconds);
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's';
  return Math.floor(s / 3600) + 'h' + String(Math.floor(s % 3600 / 60)).padStart(2, '0') + 'm';
}

function jobDuration(j) {
  if (j.started_at && j.completed_at) return duration((Date.parse(j.completed_at) - Date.parse(j.started_at)) / 1000);
  return duration(j.running_seconds);
}

function bar(done, total, label) {
  const pct = total > 0 ? Math.min(100, Math.floor(100 * done / total)) : 0;
  return el('div', { class: 'bar', title: label || (done + '/' + total) },
    el('div', { class: 'fill', style: 'width:' + pct + '%' }),
    el('span', {}, label || (done + '/' + total)));
}

function table(headers, rows) {
  return el('table', {}, el('thead', {}, el('tr', {}, headers.map(h => el('th', {}, h)))),
    el('tbody', {}, rows));
}

function chart(points) {
  // A small bar chart of images per minute, drawn as divs.
  const max = Math.max(1, ...points.map(p => p.images));
  return el('div', { class: 'chart', title: 'images per minute, last 30 minutes' },
    points.map(p => el('div', { class: 'col', title: p.minute + ': ' + p.images + ' images, ' + p.jobs + ' jobs' },
      el('div', { class: 'colfill', style: 'height:' + Math.round(100 * p.images / max) + '%' }))));
}

async function overview() {
  const d = await api('/api/overview');
  const queues = table(['queue', 'module', 'state', 'waiting', 'oldest'], d.queues.map(q =>
    el('tr', {}, el('td', {}, q.queue), el('td', {}, q.module), el('td', {}, q.paused ? 'paused' : 'taking'),
      el('td', { class: 'num' }, q.waiting), el('td', { class: 'num' }, q.oldest_age_seconds === null ? '-' : duration(q.oldest_age_seconds)))));
  const nodes = table(['node', 'alive', 'processing'], d.nodes.map(n =>
    el('tr', {}, el('td', {}, n.node), el('td', {}, n.alive ? 'yes' : 'no'), el('td', { class: 'num' }, n.processing))));
  const failures = d.failures_24h.length === 0 ? el('p', { class: 'muted' }, 'no failed jobs in the last 24 hours')
    : table(['reason', 'jobs'], d.failures_24h.map(f => el('tr', {}, el('td', {}, f.reason), el('td', { class: 'num' }, f.jobs))));
  return el('div', { id: 'overview' },
    el('section', { class: 'cards' },
      el('div', { class: 'card' }, el('b', { id: 'images-per-minute' }, d.rate.images_per_minute), ' images/min'),
      el('div', { class: 'card' }, el('b', {}, d.rate.jobs_per_minute), ' jobs/min'),
      el('div', { class: 'card' }, el('b', {}, d.jobs_in_flight.length), ' jobs in flight'),
      el('div', { class: 'card' }, el('b', {}, d.dead_letters.count), ' dead letters')),
    el('h2', {}, 'Throughput (images per minute, 30 min)'), chart(d.throughput),
    el('h2', {}, 'Queues'), queues,
    el('h2', {}, 'Nodes'), nodes,
    el('h2', {}, 'Failures by reason (24 h)'), failures);
}

function stageBars(j) {
  return el('div', { class: 'stages' }, j.stages.map(s =>
    bar(s.made, s.quantity, 'stage ' + s.stage_index + ': ' + s.made + '/' + s.quantity)));
}

async function jobs(params) {
  const offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
  const status = params.get('status') || '';
  let q = '/api/jobs?limit=' + PAGE_SIZE + '&offset=' + offset;
  if (status) q += '&status=' + encodeURIComponent(status);
  const d = await api(q);
  const link = (o, s) => '#/jobs?offset=' + o + (s ? '&status=' + s : '');
  const filters = el('div', { class: 'filters' }, ['', 'pending', 'processing', 'completed', 'failed'].map(s =>
    el('a', { href: link(0, s), class: s === status ? 'current' : '' }, s || 'all')));
  const rows = d.jobs.map(j => el('tr', { class: 'job status-' + j.status, 'data-job': j.job_id },
    el('td', {}, el('a', { href: '#/job/' + j.job_id, title: j.job_id }, j.job_id.slice(0, 8) + '…' + j.job_id.slice(-4))),
    el('td', {}, j.module || '-'),
    el('td', { class: 'status' }, j.status),
    el('td', {}, bar(j.completed_images, j.total_images, j.completed_images + '/' + j.total_images), stageBars(j)),
    el('td', { class: 'num' }, -j.credits),
    el('td', { class: 'num' }, jobDuration(j)),
    el('td', { class: 'error' }, j.error_message || '')));
  const pager = el('div', { class: 'pager' },
    offset > 0 ? el('a', { href: link(Math.max(0, offset - PAGE_SIZE), status) }, '« newer') : '',
    el('span', {}, (d.total === 0 ? 0 : offset + 1) + '–' + (offset + d.jobs.length) + ' of ' + d.total),
    offset + PAGE_SIZE < d.total ? el('a', { href: link(offset + PAGE_SIZE, status) }, 'older »') : '');
  return el('div', { id: 'jobs' }, filters,
    table(['job', 'module', 'status', 'progress', 'credits charged', 'duration', 'error'], rows), pager);
}

function thumb(src, full, alt) {
  return el('a', { href: full, class: 'thumb', onclick: (ev) => { ev.preventDefault(); openLightbox(full); } },
    el('img', { src, alt, loading: 'lazy' }));
}

function openLightbox(src) {
  const box = document.getElementById('lightbox');
  document.getElementById('lightbox-img').src = src;
  box.hidden = false;
}

async function jobDetail(id) {
  const d = await api('/api/job?id=' + encodeURIComponent(id));
  const img = (q) => '/api/image?job=' + d.job_id + '&' + q;
  const stages = d.stages.map(s => el('section', { class: 'stage' },
    el('h3', {}, 'Stage ' + s.stage_index + ' (' + s.quantity + ' images)'),
    el('div', { class: 'inputs' }, el('span', { class: 'muted' }, 'inputs: '),
      (s.inputs || []).length === 0 ? el('span', { class: 'muted' }, 'none') :
      s.inputs.map(i => el('figure', { class: 'input' },
        i.attach_id !== undefined
          ? thumb(img('attach=' + i.attach_id + '&size=thumb'), img('attach=' + i.attach_id + '&size=full'), 'input ' + i.attach_id)
          : thumb(img('stage=' + i.from_stage + '&image=' + i.from_index + '&size=thumb'),
                  img('stage=' + i.from_stage + '&image=' + i.from_index + '&size=full'), 'stage ' + i.from_stage + ' image ' + i.from_index),
        el('figcaption', {}, i.type + (i.attach_id !== undefined ? ' #' + i.attach_id : ' ← stage ' + i.from_stage + '/' + i.from_index))))),
    el('div', { class: 'outputs' }, s.images.map(o => el('figure', { class: 'output outcome-' + o.outcome },
      o.outcome === 'made'
        ? thumb(img('stage=' + s.stage_index + '&image=' + o.image_index + '&size=thumb'),
                img('stage=' + s.stage_index + '&image=' + o.image_index + '&size=full'), 'stage ' + s.stage_index + ' image ' + o.image_index)
        : el('div', { class: 'placeholder' }, o.outcome),
      el('figcaption', {}, 'image ' + o.image_index + ': ' + o.outcome
        + (o.attempts != null ? ', ' + o.attempts + (o.attempts === 1 ? ' attempt' : ' attempts') : '')
        + (o.reason ? ' — ' + o.reason : '')))))));
  const log = table(['at', 'amount', 'balance after', 'attach', 'reason'], d.credit_log.map(r =>
    el('tr', {}, el('td', {}, r.at), el('td', { class: 'num' }, r.amount), el('td', { class: 'num' }, r.balance_after),
      el('td', {}, r.attach_id === null ? '-' : r.attach_id), el('td', {}, r.reason))));
  const actions = el('div', { class: 'actions' },
    d.status === 'failed' ? actionButton('Retry', 'retry', d.job_id) : '',
    d.status === 'pending' || d.status === 'processing' ? actionButton('Cancel', 'cancel', d.job_id) : '');
  return el('div', { id: 'job-detail' },
    el('h2', {}, 'Job ', el('code', {}, d.job_id)),
    el('dl', {},
      el('dt', {}, 'module'), el('dd', {}, d.module || '-'),
      el('dt', {}, 'status'), el('dd', { id: 'job-status' }, d.status + (d.cancel_requested ? ' (cancel requested)' : '')),
      el('dt', {}, 'progress'), el('dd', {}, bar(d.completed_images, d.total_images)),
      el('dt', {}, 'error'), el('dd', {}, d.error_message || '-'),
      el('dt', {}, 'created'), el('dd', {}, d.created_at),
      el('dt', {}, 'node'), el('dd', {}, d.worker.node || '-')),
    actions,
    d.images_available ? '' : el('p', { class: 'muted' }, 'images are not available: the worker has no storage configured for the dashboard'),
    stages, el('h3', {}, 'Credit log'), log);
}

async function dead(params) {
  const offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
  const d = await api('/api/dead?limit=' + PAGE_SIZE + '&offset=' + offset);
  const rows = d.entries.map(e => el('tr', { class: 'dead', 'data-id': e.id || '' },
    el('td', {}, e.at || ''), el('td', {}, e.id || e.raw || ''), el('td', {}, e.queue || ''), el('td', {}, e.reason || ''),
    el('td', {}, e.id ? actionButton('Re-enqueue', 'requeue', e.id) : '')));
  return el('div', { id: 'dead' }, el('p', {}, d.total + ' dead letters'),
    table(['time', 'id', 'queue', 'reason', ''], rows));
}

async function queues() {
  const d = await api('/api/overview');
  return el('div', { id: 'queues' }, table(['queue', 'module', 'state', 'waiting', 'oldest id', 'oldest age', ''], d.queues.map(q =>
    el('tr', { 'data-queue': q.queue }, el('td', {}, q.queue), el('td', {}, q.module),
      el('td', { class: 'state' }, q.paused ? 'paused' : 'taking'), el('td', { class: 'num' }, q.waiting),
      el('td', {}, q.oldest_id || '-'), el('td', { class: 'num' }, q.oldest_age_seconds === null ? '-' : duration(q.oldest_age_seconds)),
      el('td', {}, q.paused ? actionButton('Resume', 'resume', q.queue) : actionButton('Pause', 'pause', q.queue))))));
}

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?');
  const params = new URLSearchParams(query || '');
  if (path.startsWith('/job/')) return ['jobs', () => jobDetail(path.slice(5))];
  if (path === '/jobs') return ['jobs', () => jobs(params)];
  if (path === '/dead') return ['dead', () => dead(params)];
  if (path === '/queues') return ['queues', queues];
  return ['overview', overview];
}

async function draw() {
  if (drawing) return;
  drawing = true;
  const [name, render] = route();
  document.querySelectorAll('nav a').forEach(a => a.classList.toggle('current', a.dataset.page === name));
  try {
    const content = await render();
    // Keep the scroll position across redraws.
    const y = window.scrollY;
    document.getElementById('page').replaceChildren(content);
    window.scrollTo(0, y);
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById('updated').textContent = 'update failed: ' + e.message;
  } finally {
    drawing = false;
  }
}

function showTokenState() {
  const state = document.getElementById('token-state');
  const input = document.getElementById('token');
  const save = document.getElementById('token-save');
  if (!actionsEnabled) {
    state.textContent = 'Read-only: actions are disabled because the worker has no admin token configured (set QUEL_HTTP_ADMIN_TOKEN).';
    input.hidden = true; save.hidden = true;
  } else {
    state.textContent = token() ? 'Actions use the admin token you entered.' : 'Actions need the admin token:';
    input.hidden = false; save.hidden = false;
  }
}

async function start() {
  try { actionsEnabled = (await api('/api/config')).actions_enabled; } catch (e) { actionsEnabled = false; }
  document.getElementById('token-save').addEventListener('click', () => {
    sessionStorage.setItem('quel-admin-token', document.getElementById('token').value);
    document.getElementById('token').value = '';
    showTokenState();
  });
  document.getElementById('lightbox').addEventListener('click', () => { document.getElementById('lightbox').hidden = true; });
  document.body.classList.toggle('read-only', !actionsEnabled);
  showTokenState();
  window.addEventListener('hashchange', draw);
  await draw();
  timer = setInterval(draw, POLL_MS);
}

start();
