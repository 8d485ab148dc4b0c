// End-to-end test of the web view of `sluice serve` in a real browser: Debian's Chromium,
// headless, driven by playwright-core. Starts `sluice sandbox` and `sluice serve` (pointed at
// it) on 127.0.0.1, logs in, looks at the flows, starts contact-360 from its form, watches it
// finish without a reload, opens a step, sees a failed run's error, filters runs, logs out.
// Screenshots of each page go to target/screenshots/. Run by tests/browser/run.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(root, process.env.CARGO_TARGET_DIR) : path.join(root, 'target');
const bin = process.env.SLUICE_BIN || path.join(targetDir, 'debug', 'sluice');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = path.join(targetDir, 'screenshots');
const TOKEN = 'browser-test-token-0123456789';
const GHL_TOKEN = 'sandbox-token';

const children = [];
let project, sandboxUrl, base, browser, page;
const consoleErrors = [];

/** Starts a process and resolves with the first line matching `pattern` (its capture). */
function start(args, options, pattern) {
  const child = spawn(bin, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const log = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start:\n${log.join('\n')}`)), 60_000);
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on('line', (line) => {
        log.push(line);
        const m = line.match(pattern);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    }
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited (${code}):\n${log.join('\n')}`));
    });
  });
}

async function shot(name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

before(async () => {
  assert.ok(
    fs.existsSync(chromiumPath),
    `no Chromium at ${chromiumPath}: scripts/test.sh installs it (apt-get install chromium)`,
  );
  assert.ok(fs.existsSync(bin), `no sluice binary at ${bin}: build it with cargo build -p sluice-cli`);
  fs.mkdirSync(shots, { recursive: true });
  project = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-web-'));
  fs.mkdirSync(path.join(project, 'flows'));
  for (const flow of ['contact-360', 'nightly-sync']) {
    fs.copyFileSync(path.join(root, 'workflows', `${flow}.yaml`), path.join(project, 'flows', `${flow}.yaml`));
  }
  fs.writeFileSync(
    path.join(project, 'sluice.toml'),
    '[serve]\ntoken = { env = "SERVE_TOKEN" }\n\n[credentials.ghl_main]\nkind = "bearer"\ntoken = { env = "GHL_TOKEN" }\nlocation_id = "loc_sandbox"\n',
  );
  const env = { ...process.env, NO_COLOR: '1', SERVE_TOKEN: TOKEN, GHL_TOKEN };
  delete env.SLUICE_HOME;
  delete env.SLUICE_STORE;
  delete env.SLUICE_API_TOKEN;
  sandboxUrl = await start(['sandbox', '--addr', '127.0.0.1:0'], { cwd: project, env }, /listening on (http:\/\/\S+)/);
  // Notes and tasks answer slowly, so a run is seen going on before it ends.
  const faults = await fetch(`${sandboxUrl}/__sandbox/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([
      { route: 'GET /contacts/{contactId}/notes', fault: { kind: 'latency', ms: 2500 } },
      { route: 'GET /contacts/{contactId}/tasks', fault: { kind: 'latency', ms: 2500 } },
    ]),
  });
  assert.equal(faults.status, 200, await faults.text());
  base = await start(
    ['serve', 'flows', '--listen', '127.0.0.1:0', '--store', `sqlite://${path.join(project, 'state', 'sluice.db')}`,
      '--tick', '200ms', '--connection', `ghl.base_url=${sandboxUrl}`],
    { cwd: project, env },
    /listening on (http:\/\/\S+)/,
  );
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'], headless: true });
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
});

after(async () => {
  await browser?.close();
  for (const c of children) c.kill('SIGTERM');
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

test('a page without a session goes to the login form; a wrong token is refused', async () => {
  await page.goto(`${base}/runs?flow=contact-360`);
  assert.match(page.url(), /\/login\?next=\/runs%3Fflow%3Dcontact-360$/);
  await shot('login');
  await page.getByLabel('Token').fill('not-the-token-at-all');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: "not the runner's token" }).waitFor();
  assert.match(page.url(), /\/login$/);
});

test('logging in leads back to the page asked for, and the cookie is HttpOnly and Strict', async () => {
  await page.getByLabel('Token').fill(TOKEN);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${base}/runs?flow=contact-360`);
  const cookies = await page.context().cookies(base);
  const session = cookies.find((c) => c.name === 'sluice_session');
  assert.ok(session, JSON.stringify(cookies));
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.ok(!session.value.includes(TOKEN));
});

test('the flows page shows each flow, its triggers, validity and next fire', async () => {
  await page.getByRole('link', { name: 'Flows' }).click();
  await page.getByRole('heading', { name: 'Flows', level: 1 }).waitFor();
  const contact = page.getByRole('row').filter({ hasText: 'contact-360' });
  await contact.getByText('manual').waitFor();
  await contact.getByText('ContactUpdate').waitFor();
  await contact.getByText('valid').waitFor();
  const nightly = page.getByRole('row').filter({ hasText: 'nightly-sync' });
  await nightly.getByText(/next: \d{4}-\d\d-\d\d/).waitFor();
  await shot('flows');
  await page.setViewportSize({ width: 360, height: 740 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= 360, `the flows page is ${overflow}px wide at 360px`);
  await shot('flows-360px');
  await page.setViewportSize({ width: 1100, height: 800 });
});

test('the keyboard reaches the skip link first, and it moves to the content', async () => {
  await page.goto(`${base}/`);
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement?.textContent);
  assert.equal(focused, 'Skip to content');
  await page.keyboard.press('Enter');
  assert.match(page.url(), /#main$/);
});

test('a flow page draws the DAG and has a Run now form from the inputs', async () => {
  await page.goto(`${base}/`);
  await page.getByRole('link', { name: 'contact-360' }).first().click();
  await page.waitForURL(`${base}/flows/contact-360`);
  const dag = page.locator('svg.dag');
  await dag.waitFor();
  assert.equal(await dag.locator('g.node').count(), 5);
  assert.ok((await dag.locator('path.edge').count()) >= 4);
  assert.match(await page.locator('figcaption').innerText(), /notes \(needs contact\)/);
  await page.getByLabel(/contactId/).waitFor();
  await shot('flow');
});

let runUrl;

test('Run now starts contact-360; the run page follows it to the end without a reload', async () => {
  await page.getByLabel(/contactId/).fill('ct_ada');
  await page.getByRole('button', { name: 'Run contact-360 now' }).click();
  await page.waitForURL(/\/runs\/[0-9A-Z]{26}$/);
  runUrl = page.url();
  await page.evaluate(() => { window.sameDocument = true; });
  const status = page.locator('#run-status');
  assert.match(await status.innerText(), /queued|running/);
  await page.locator('#step-contact.st-succeeded').waitFor();
  await shot('run-going');
  await status.getByText('succeeded').waitFor({ timeout: 30_000 });
  assert.equal(await page.evaluate(() => window.sameDocument), true, 'the page was reloaded');
  await page.getByRole('heading', { name: 'Output' }).waitFor();
  await shot('run');
});

test("a step shows its request (secrets redacted), its answer status and its output", async () => {
  const step = page.locator('#step-contact');
  await step.locator('summary').click();
  const text = await step.innerText();
  assert.match(text, /Request \(secrets redacted\)/);
  assert.match(text, /\/contacts\/ct_ada/);
  assert.match(text, /\[REDACTED\]/);
  assert.match(text, /answer: HTTP 200/);
  assert.match(text, /"firstName": "Ada"/);
  const html = await page.content();
  assert.ok(!html.includes(GHL_TOKEN), 'the credential appears in the page');
  assert.ok(!html.includes(TOKEN), 'the runner token appears in the page');
  await shot('run-step');
});

test("a failed run shows its error first", async () => {
  await page.goto(`${base}/flows/contact-360`);
  await page.getByLabel(/contactId/).fill('ct_nope');
  await page.getByRole('button', { name: 'Run contact-360 now' }).click();
  await page.waitForURL(/\/runs\/[0-9A-Z]{26}$/);
  await page.locator('#run-status').getByText('failed').waitFor({ timeout: 30_000 });
  const alert = page.locator('main section.alert[role=alert]');
  await alert.waitFor();
  assert.match(await alert.innerText(), /404/);
  assert.match(await alert.innerText(), /Failed step: contact/);
  assert.equal(await page.locator('#d-contact').getAttribute('open'), '');
  await shot('run-failed');
});

test('the runs page filters by flow and status', async () => {
  await page.goto(`${base}/runs`);
  await page.getByLabel('Flow').selectOption('contact-360');
  await page.getByLabel('Status').selectOption('failed');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(/status=failed/);
  const rows = page.locator('table.runs tbody tr');
  assert.equal(await rows.count(), 1);
  assert.match(await rows.first().innerText(), /failed/);
  await page.goto(runUrl);
  await page.locator('#run-status').getByText('succeeded').waitFor();
  await page.goto(`${base}/runs?flow=contact-360`);
  assert.equal(await page.locator('table.runs tbody tr').count(), 2);
  await shot('runs');
});

test('logging out ends the session', async () => {
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(`${base}/login`);
  await page.goto(`${base}/`);
  assert.match(page.url(), /\/login\?next=/);
  const api = await page.evaluate(async () => (await fetch('/api/flows')).status);
  assert.equal(api, 401);
});

test('no page logged a script or security-policy error', () => {
  assert.deepEqual(consoleErrors.filter((e) => !/401/.test(e)), []);
});
