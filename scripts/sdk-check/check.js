#!/usr/bin/env node
// Runs every method of the official GoHighLevel SDK's Contacts service
// (@gohighlevel/api-client, pinned in package.json) against a Sluice sandbox, plus the SDK's
// error mapping, its OAuth refresh on 401, and its Ed25519 webhook verifier on the sandbox's
// signed webhooks. Usage: SANDBOX_URL=http://127.0.0.1:PORT node check.js
// Prints `N passed, N failed` and exits non-zero on any failure.
'use strict';

const http = require('node:http');
const sdk = require('@gohighlevel/api-client');

const { HighLevel, MemorySessionStorage } = sdk;

const BASE = process.env.SANDBOX_URL;
const LOC = process.env.SANDBOX_LOCATION || 'loc_sandbox';
const TOKEN = process.env.SANDBOX_TOKEN || 'sandbox-token';
if (!BASE) {
  console.error('check.js: set SANDBOX_URL to the sandbox base URL, e.g. http://127.0.0.1:40123');
  process.exit(2);
}

let passed = 0;
let failed = 0;
const called = new Set();

function describe(e) {
  if (e && e.statusCode !== undefined) {
    return `${e.name} ${e.statusCode}: ${JSON.stringify(e.response)}`;
  }
  return e && e.stack ? e.stack : String(e);
}

function ok(name) {
  passed += 1;
  console.log(`ok   ${name}`);
}

function fail(name, why) {
  failed += 1;
  console.log(`FAIL ${name}: ${why}`);
}

// Calls an SDK method and checks the answer has the expected top-level keys.
async function check(method, keys, fn) {
  called.add(method);
  try {
    const answer = await fn();
    const missing = keys.filter((k) => answer === null || typeof answer !== 'object' || !(k in answer));
    if (missing.length > 0) {
      fail(method, `missing ${missing.join(', ')} in ${JSON.stringify(answer).slice(0, 300)}`);
      return undefined;
    }
    ok(method);
    return answer;
  } catch (e) {
    fail(method, describe(e));
    return undefined;
  }
}

// Expects the SDK call to throw an error of this class and status.
async function expectError(name, errorName, status, fn) {
  try {
    const answer = await fn();
    fail(name, `expected ${errorName} ${status}, got ${JSON.stringify(answer).slice(0, 200)}`);
  } catch (e) {
    // The SDK's error subclasses keep `name` = 'GHLError'; tell them apart by class.
    if (e instanceof sdk[errorName] && e.statusCode === status) {
      ok(name);
    } else {
      fail(name, `expected ${errorName} ${status}, got ${describe(e)}`);
    }
  }
}

async function admin(method, path, body) {
  const resp = await fetch(`${BASE}/__sandbox/${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!resp.ok) {
    throw new Error(`${method} /__sandbox/${path}: ${resp.status} ${await resp.text()}`);
  }
  return resp.json();
}

// A webhook receiver on 127.0.0.1 that keeps each raw body with its x-ghl-signature.
function startReceiver() {
  const received = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ signature: req.headers['x-ghl-signature'], raw: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, received, url: `http://127.0.0.1:${server.address().port}/hook` }));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  await admin('POST', 'reset');
  const receiver = await startReceiver();
  const hook = await admin('POST', 'webhook', { url: receiver.url, retryBackoffMs: 50 });

  const ghl = new HighLevel({ privateIntegrationToken: TOKEN, apiVersion: '2021-07-28', logLevel: 'none' });
  ghl.getHttpClient().defaults.baseURL = BASE; // FACTS §10 (a)
  const c = ghl.contacts;
  const stamp = Date.now();
  const email = `sdk-check-${stamp}@example.com`;

  // Contacts
  await check('getContacts', ['contacts', 'count'], () => c.getContacts({ locationId: LOC, limit: 2 }));
  await check('searchContactsAdvanced', ['contacts', 'total'], () =>
    c.searchContactsAdvanced({ locationId: LOC, pageLimit: 10, query: 'ada' }));
  await check('getDuplicateContact', ['contact'], () => c.getDuplicateContact({ locationId: LOC, email: 'ada@example.com' }));
  await check('getContactsByBusinessId', ['contacts', 'count'], () =>
    c.getContactsByBusinessId({ businessId: 'biz_engines', locationId: LOC, limit: 10, skip: 0 }));
  const created = await check('createContact', ['contact'], () =>
    c.createContact({ locationId: LOC, firstName: 'Sdk', lastName: 'Check', email, tags: ['sdk'] }));
  const contactId = created ? created.contact.id : 'ct_linus';
  await check('getContact', ['contact'], () => c.getContact({ contactId }));
  await check('updateContact', ['succeded', 'contact'], () => c.updateContact({ contactId }, { city: 'Oslo' }));
  const upserted = await check('upsertContact', ['new', 'contact', 'traceId'], () =>
    c.upsertContact({ locationId: LOC, email, lastName: 'Checked' }));
  if (upserted) {
    if (upserted.new === false && upserted.contact.id === contactId) ok('upsertContact updates the existing contact');
    else fail('upsertContact updates the existing contact', JSON.stringify(upserted).slice(0, 200));
  }

  // Tags, followers, campaigns, workflows
  await check('addTags', ['tags'], () => c.addTags({ contactId }, { tags: ['alpha', 'beta'] }));
  await check('removeTags', ['tags'], () => c.removeTags({ contactId }, { tags: ['alpha'] }));
  await check('addFollowersContact', ['followers', 'followersAdded'], () =>
    c.addFollowersContact({ contactId }, { followers: ['usr_follower'] }));
  await check('removeFollowersContact', ['followers', 'followersRemoved'], () =>
    c.removeFollowersContact({ contactId }, { followers: ['usr_follower'] }));
  await check('addContactToCampaign', ['succeded'], () => c.addContactToCampaign({ contactId, campaignId: 'camp_spring' }, {}));
  await check('removeContactFromCampaign', ['succeded'], () => c.removeContactFromCampaign({ contactId, campaignId: 'camp_spring' }));
  await check('removeContactFromEveryCampaign', ['succeded'], () => c.removeContactFromEveryCampaign({ contactId }));
  const eventStartTime = new Date(stamp + 3600000).toISOString();
  await check('addContactToWorkflow', ['succeded'], () =>
    c.addContactToWorkflow({ contactId, workflowId: 'wf_onboarding' }, { eventStartTime }));
  await check('deleteContactFromWorkflow', ['succeded'], () =>
    c.deleteContactFromWorkflow({ contactId, workflowId: 'wf_onboarding' }, { eventStartTime }));
  await check('createAssociation', ['succeded', 'errorCount', 'responses'], () =>
    c.createAssociation({ type: 'add' }, { contacts: [contactId, 'ct_ada'], tags: ['bulk'], locationId: LOC }));
  await check('addRemoveContactFromBusiness', ['success', 'ids'], () =>
    c.addRemoveContactFromBusiness({ locationId: LOC, ids: [contactId], businessId: 'biz_engines' }));

  // Tasks
  const task = await check('createTask', ['task'], () =>
    c.createTask({ contactId }, { title: 'Follow up', body: 'call', dueDate: '2030-01-02T10:00:00Z', completed: false }));
  const taskId = task ? task.task.id : 'missing';
  await check('getAllTasks', ['tasks'], () => c.getAllTasks({ contactId }));
  await check('getTask', ['task'], () => c.getTask({ contactId, taskId }));
  await check('updateTask', ['task'], () => c.updateTask({ contactId, taskId }, { title: 'Follow up (moved)' }));
  await check('updateTaskCompleted', ['task'], () => c.updateTaskCompleted({ contactId, taskId }, { completed: true }));
  await check('deleteTask', ['succeded'], () => c.deleteTask({ contactId, taskId }));

  // Notes
  const note = await check('createNote', ['note'], () => c.createNote({ contactId }, { body: 'Written by the SDK check' }));
  const id = note ? note.note.id : 'missing';
  await check('getAllNotes', ['notes'], () => c.getAllNotes({ contactId }));
  await check('getNote', ['note'], () => c.getNote({ contactId, id }));
  await check('updateNote', ['note'], () => c.updateNote({ contactId, id }, { body: 'Edited by the SDK check' }));
  await check('deleteNote', ['succeded'], () => c.deleteNote({ contactId, id }));

  await check('getAppointmentsForContact', ['events'], () => c.getAppointmentsForContact({ contactId: 'ct_ada' }));
  await check('deleteContact', ['succeded'], () => c.deleteContact({ contactId }));

  // Every method of the installed SDK's Contacts service was called.
  const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(c)).filter((m) => m !== 'constructor' && typeof c[m] === 'function');
  for (const m of methods) {
    if (!called.has(m)) fail(m, 'this SDK method is not exercised by check.js');
  }
  console.log(`(the SDK's Contacts service has ${methods.length} methods; ${called.size} were called)`);

  // Error mapping of the SDK on the sandbox's error answers.
  await expectError('unknown contact → GHLNotFoundError', 'GHLNotFoundError', 404, () => c.getContact({ contactId: 'no-such-contact' }));
  await expectError('task without title → GHLValidationError', 'GHLValidationError', 422, () =>
    c.createTask({ contactId: 'ct_ada' }, { dueDate: '2030-01-02T10:00:00Z', completed: false }));
  const readonly = new HighLevel({ privateIntegrationToken: 'sandbox-readonly', apiVersion: '2021-07-28', logLevel: 'none' });
  readonly.getHttpClient().defaults.baseURL = BASE;
  await expectError('read-only token writing → GHLForbiddenError', 'GHLForbiddenError', 403, () =>
    readonly.contacts.addTags({ contactId: 'ct_ada' }, { tags: ['x'] }));
  const noVersionDefault = new HighLevel({ privateIntegrationToken: TOKEN, logLevel: 'none' });
  noVersionDefault.getHttpClient().defaults.baseURL = BASE;
  await check('SDK default Version 2023-02-21 accepted', ['contact'], () => noVersionDefault.contacts.getContact({ contactId: 'ct_ada' }));

  // OAuth: a stale access token → 401 → the SDK refreshes at /oauth/token and retries.
  const storage = new MemorySessionStorage();
  const oauth = new HighLevel({ clientId: 'sandbox-client', clientSecret: 'sandbox-secret', sessionStorage: storage, apiVersion: '2021-07-28', logLevel: 'none' });
  oauth.getHttpClient().defaults.baseURL = BASE;
  await storage.setSession(LOC, {
    access_token: 'stale-access-token', refresh_token: 'sandbox-refresh-token', expires_in: 86399, userType: 'Location', locationId: LOC,
  });
  await check('OAuth refresh on 401 (getAllNotes)', ['notes'], () =>
    oauth.contacts.getAllNotes({ contactId: 'ct_ada' }, { headers: { locationId: LOC } }));
  const session = await storage.getSession(LOC);
  const state = await admin('GET', 'state');
  if (session && session.refresh_token && session.refresh_token !== 'sandbox-refresh-token' && state.oauthRefreshes === 1) {
    ok('OAuth refresh token rotated and stored');
  } else {
    fail('OAuth refresh token rotated and stored', `session ${JSON.stringify(session)}, sandbox refreshes ${state.oauthRefreshes}`);
  }

  // Webhooks verify with the SDK's own Ed25519 verifier.
  const expected = state.webhookEvents.length;
  for (let i = 0; i < 100 && receiver.received.length < expected; i += 1) await sleep(50);
  const bad = receiver.received.filter((r) => !ghl.webhooks.verifyEd25519Signature(r.raw, r.signature || '', hook.publicKeyPem));
  const types = receiver.received.map((r) => JSON.parse(r.raw.toString('utf8')).type);
  if (expected > 0 && receiver.received.length === expected && bad.length === 0) {
    ok(`${expected} webhooks verified by WebhookManager.verifyEd25519Signature (${[...new Set(types)].join(', ')})`);
  } else {
    fail('webhooks', `${receiver.received.length} of ${expected} received, ${bad.length} with a bad signature`);
  }
  const tampered = receiver.received[0];
  if (tampered && !ghl.webhooks.verifyEd25519Signature(Buffer.concat([tampered.raw, Buffer.from(' ')]), tampered.signature, hook.publicKeyPem)) {
    ok('a changed webhook body fails verification');
  } else {
    fail('a changed webhook body fails verification', 'verified anyway (or nothing received)');
  }
  await admin('POST', 'webhook', { url: null });
  receiver.server.close();
}

main()
  .catch((e) => fail('check.js', describe(e)))
  .finally(() => {
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed === 0 ? 0 : 1;
  });
