// Drives the dashboard in headless Chromium (tests/browser/run.sh sets the
// environment): every page renders without a script error or a refused
// resource, the jobs show the database's status and progress, a job's
// output thumbnails and full-size images load, 1,000 jobs are paged
// quickly, and re-enqueueing a dead letter is refused without the admin
// token and works with it. Screenshots of each page go to OUT_DIR.
'use strict';

const assert = require('assert');
const { chromium } = require('playwright-core');

const base = process.env.DASHBOARD_URL;
const out = process.env.OUT_DIR;
const token = process.env.ADMIN_TOKEN;
const expected = JSON.parse(process.env.EXPECTED_JOBS);
const deadId = process.env.DEAD_ID;

async function api(path) {
  const r = await fetch(base + path);
  assert.ok(r.ok, path + ' answered ' + r.status);
  return r.json();
}

function step(text) { console.log('-- ' + text); }

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // Script errors and console errors (a Content-Security-Policy refusal is
  // one) fail the test.
  const errors = [];
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  // Failed requests are checked by URL below (the console only says that
  // one failed); the browser's own /favicon.ico probe does not count.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
      errors.push('console: ' + m.text());
  });
  const failed = [];
  page.on('response', (r) => {
    const path = new URL(r.url()).pathname;
    if (r.status() >= 400 && path !== '/favicon.ico') failed.push(r.status() + ' ' + path);
  });

  step('overview');
  await page.goto(base + '/');
  await page.waitForSelector('#overview .chart');
  assert.match(await page.locator('#token-state').textContent(), /admin token/);
  await page.screenshot({ path: out + '/overview.png', fullPage: true });

  step('jobs: status and progress as in the database');
  const t0 = Date.now();
  await page.goto(base + '/#/jobs');
  await page.waitForSelector('#jobs tr.job');
  const listMs = Date.now() - t0;
  for (const j of expected) {
    const row = page.locator(`tr[data-job="${j.job_id}"]`);
    await row.waitFor();
    assert.strictEqual((await row.locator('td.status').textContent()).trim(), j.status, j.job_id);
    assert.strictEqual(await row.locator('td:nth-child(4) > .bar span').textContent(),
                       `${j.completed}/${j.total}`, j.job_id);
    const stages = await row.locator('.stages .bar').count();
    assert.ok(stages >= 1, 'a progress bar per stage');
  }
  const pager = await page.locator('.pager span').textContent();
  assert.match(pager, /^1–50 of 1004$/);
  assert.ok(listMs < 3000, 'the first page of 1,004 jobs took ' + listMs + ' ms');
  await page.screenshot({ path: out + '/jobs.png', fullPage: false });
  // The last page of 1,004 jobs.
  await page.goto(base + '/#/jobs?offset=1000');
  await page.waitForFunction(() => /^1001–1004 of 1004$/.test(document.querySelector('.pager span')?.textContent || ''));

  step('job detail: output thumbnails and full-size images load');
  const done = expected.filter((j) => j.completed > 0).sort((a, b) => b.completed - a.completed)[0];
  assert.ok(done, 'a job made images');
  await page.goto(base + '/#/job/' + done.job_id);
  await page.waitForSelector('#job-detail .outputs img');
  await page.waitForFunction(() => {
    const imgs = [...document.querySelectorAll('#job-detail img')].filter((i) => !i.closest('#lightbox'));
    return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  }, null, { timeout: 20000 });
  assert.strictEqual(await page.locator('#job-detail .outputs img').count(), done.completed);
  const widths = await page.$$eval('#job-detail .outputs img', (imgs) => imgs.map((i) => i.naturalWidth));
  assert.ok(widths.every((w) => w > 0 && w <= 320), 'thumbnails are scaled down: ' + widths);
  assert.strictEqual((await page.locator('#job-status').textContent()).split(' ')[0], done.status);
  // Each made image says how many attempts it took (status JOB_ID's "attempts").
  const captions = await page.$$eval('#job-detail .outputs figure.outcome-made figcaption',
                                     (cs) => cs.map((c) => c.textContent));
  assert.strictEqual(captions.length, done.completed);
  for (const c of captions)
    assert.match(c, /^image \d+: made, \d+ attempts?/, 'caption: ' + c);
  await page.screenshot({ path: out + '/job.png', fullPage: true });
  await page.locator('#job-detail .outputs a.thumb').first().click();
  await page.waitForFunction(() => {
    const i = document.getElementById('lightbox-img');
    return !document.getElementById('lightbox').hidden && i.complete && i.naturalWidth > 0;
  });
  await page.screenshot({ path: out + '/job-full-size.png' });
  await page.locator('#lightbox').click();

  step('dead letters: re-enqueue refused without the token');
  await page.goto(base + '/#/dead');
  const deadRow = `tr.dead[data-id="${deadId}"]`;
  await page.waitForSelector(deadRow);
  await page.screenshot({ path: out + '/dead-letters.png', fullPage: true });
  await page.click(deadRow + ' button');
  await page.waitForSelector('#notice.bad');
  assert.match(await page.locator('#notice').textContent(), /refused: a valid admin token is needed/);
  assert.strictEqual((await api('/api/dead')).total, 1, 'still dead-lettered');

  step('dead letters: re-enqueue works with the token');
  await page.fill('#token', token);
  await page.click('#token-save');
  await page.click(deadRow + ' button');
  await page.waitForSelector('#notice.good');
  assert.match(await page.locator('#notice').textContent(), new RegExp('requeued ' + deadId));
  assert.strictEqual((await api('/api/dead')).total, 0, 'the dead letter is gone');
  await page.waitForSelector(deadRow, { state: 'detached' });

  step('queues: pause and resume');
  await page.goto(base + '/#/queues');
  await page.waitForSelector('#queues tr[data-queue="jobs:queue"]');
  await page.screenshot({ path: out + '/queues.png', fullPage: true });
  const beauty = 'tr[data-queue="jobs:queue:beauty"]';
  await page.click(beauty + ' button[data-action="pause"]');
  await page.waitForFunction((sel) => document.querySelector(sel + ' td.state')?.textContent === 'paused', beauty);
  assert.ok((await api('/api/overview')).queues.find((q) => q.queue === 'jobs:queue:beauty').paused);
  await page.click(beauty + ' button[data-action="resume"]');
  await page.waitForFunction((sel) => document.querySelector(sel + ' td.state')?.textContent === 'taking', beauty);
  assert.ok(!(await api('/api/overview')).queues.find((q) => q.queue === 'jobs:queue:beauty').paused);

  step('the API refuses what it does not serve');
  for (const [path, status] of [['/api/job?id=../../etc/passwd', 400], ['/api/jobs?limit=100000', 400],
                                ['/api/image?job=' + done.job_id + '&stage=0&image=999', 404],
                                ['/../../etc/passwd', 404], ['/api/file?path=/etc/passwd', 404]]) {
    const r = await fetch(base + path);
    assert.strictEqual(r.status, status, path);
  }

  step('a worker without an admin token: the page says read-only, actions are refused');
  const ro = process.env.READONLY_URL;
  await page.goto(ro + '/#/dead');
  await page.waitForSelector('#dead');
  assert.match(await page.locator('#token-state').textContent(), /^Read-only: actions are disabled/);
  assert.ok(await page.locator('#token').isHidden());
  const status = await page.evaluate(async ([id, t]) => (await fetch(
    '/api/action?do=requeue&id=' + id, { method: 'POST', headers: { 'X-Quel-Admin-Token': t } })).status,
  [deadId, token]);
  assert.strictEqual(status, 403);

  assert.deepStrictEqual(errors, []);
  // The one refusal the test asked for.
  assert.deepStrictEqual(failed, ['401 /api/action', '403 /api/action']);
  await browser.close();
  console.log('dashboard browser test passed; screenshots in ' + out);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
