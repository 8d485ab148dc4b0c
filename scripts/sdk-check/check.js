#!/usr/bin/env node
// Runs every method of the official GoHighLevel SDK's Contacts, Users, Locations, Businesses,
// Opportunities and Conversations services (@gohighlevel/api-client, pinned in package.json)
// against a Sluice sandbox — but those in NOT_SERVED, each listed with why — plus the SDK's
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
// `service.method` of every SDK method called; `service` is the section being checked.
const called = new Set();
let service = 'contacts';

// The methods of the checked services the sandbox does not serve, each with why. Every other
// method of these services is called below and its answer's shape checked.
const NOT_SERVED = {
  locations: {
    searchLocations: 'agency (Company) token only; the sandbox issues location tokens',
    createLocation: 'agency (Company) token only',
    putLocation: 'agency (Company) token only',
    deleteLocation: 'agency (Company) token only (locations.internal-access-only)',
    getRecurringTaskById: 'recurring tasks (rrule schedules) are not modelled',
    createRecurringTask: 'recurring tasks (rrule schedules) are not modelled',
    updateRecurringTask: 'recurring tasks (rrule schedules) are not modelled',
    deleteRecurringTask: 'recurring tasks (rrule schedules) are not modelled',
    uploadFileCustomFields: 'multipart file upload to GHL storage',
    gETAllOrEmailSmsTemplates: 'email/SMS templates (a builder product) are not modelled',
    dELETEAnEmailSmsTemplate: 'email/SMS templates (a builder product) are not modelled',
  },
  conversations: {
    getAllCustomSubtypes: 'custom-provider preferences; no scope in the document',
    createCustomSubtype: 'custom-provider preferences; no scope in the document',
    updateCustomSubtype: 'custom-provider preferences; no scope in the document',
    getContactUnsubscriptionStatus: 'email unsubscription preferences; no scope in the document',
    userSubscriptionChange: 'email unsubscription preferences; no scope in the document',
    getEmailById: 'email threads (altId, threadId) are not modelled',
    cancelScheduledEmailMessage: 'email threads are not modelled (SMS scheduling is: cancelScheduledMessage)',
    exportMessagesByLocation: 'a bulk export with cursors; getMessages serves a conversation\'s messages',
    sendReviewReply: 'Google reviews are not modelled',
    uploadFileAttachments: 'multipart file upload to GHL storage',
    initiateFileUpload: 'file upload to GHL storage',
    completeFileUpload: 'file upload to GHL storage',
    addMessageAttachments: 'attachments live in GHL storage',
    getMessageRecording: 'call recordings (audio) are not modelled',
    getMessageTranscription: 'call transcriptions are not modelled',
    downloadMessageTranscription: 'call transcriptions are not modelled',
    liveChatAgentTyping: 'live chat widgets are not modelled',
  },
};

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
  called.add(`${service}.${method}`);
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

  await otherServices(ghl, stamp);

  // Every method of the installed SDK's services checked here was called, or is listed in
  // NOT_SERVED (and then not called).
  for (const name of ['contacts', 'users', 'locations', 'businesses', 'opportunities', 'conversations']) {
    const svc = ghl[name];
    const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(svc)).filter((m) => m !== 'constructor' && typeof svc[m] === 'function');
    const skipped = NOT_SERVED[name] || {};
    let n = 0;
    for (const m of methods) {
      const was = called.has(`${name}.${m}`);
      if (was) n += 1;
      if (!was && !(m in skipped)) fail(`${name}.${m}`, 'this SDK method is not exercised by check.js');
      if (was && m in skipped) fail(`${name}.${m}`, 'called, yet listed in NOT_SERVED');
    }
    for (const m of Object.keys(skipped)) {
      if (!methods.includes(m)) fail(`${name}.${m}`, 'listed in NOT_SERVED, but the SDK has no such method');
    }
    console.log(`(the SDK's ${name} service has ${methods.length} methods; ${n} were called, ${Object.keys(skipped).length} not served)`);
  }
  service = 'contacts';

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

// Users, Locations, Businesses, Opportunities and Conversations: every method the sandbox
// serves, with the shape of its answer.
async function otherServices(ghl, stamp) {
  const u = ghl.users;
  service = 'users';
  await check('getUserByLocation', ['users'], () => u.getUserByLocation({ locationId: LOC }));
  await check('getUser', ['id', 'name', 'email', 'roles'], () => u.getUser({ userId: 'usr_owner' }));
  await check('searchUsers', ['users', 'count'], () => u.searchUsers({ companyId: 'co_sandbox', locationId: LOC, query: 'olivia' }));
  await check('filterUsersByEmail', ['users', 'count'], () =>
    u.filterUsersByEmail({ companyId: 'co_sandbox', emails: ['olivia@example.com'] }));
  const user = await check('createUser', ['id', 'name', 'email', 'roles'], () => u.createUser({
    companyId: 'co_sandbox', firstName: 'Sdk', lastName: 'User', email: `sdk-user-${stamp}@example.com`,
    password: 'not-kept-0123', type: 'account', role: 'user', locationIds: [LOC],
  }));
  const userId = user ? user.id : 'missing';
  if (user && !('password' in user)) ok('createUser does not answer the password');
  else fail('createUser does not answer the password', JSON.stringify(user));
  await check('updateUser', ['id', 'name'], () => u.updateUser({ userId }, { lastName: 'Renamed' }));
  await check('deleteUser', ['succeded', 'message'], () => u.deleteUser({ userId }));

  const l = ghl.locations;
  service = 'locations';
  await check('getLocation', ['location'], () => l.getLocation({ locationId: LOC }));
  await check('getTimezones', ['timezones'], () => l.getTimezones({ locationId: LOC }));
  await check('taskSearch', ['tasks'], () => l.taskSearch({ locationId: LOC }, { completed: false, limit: 10, skip: 0 }));
  await check('getLocationTags', ['tags'], () => l.getLocationTags({ locationId: LOC }));
  const tag = await check('createTag', ['tag'], () => l.createTag({ locationId: LOC }, { name: `sdk-${stamp}` }));
  const tagId = tag ? tag.tag.id : 'missing';
  await check('getTagById', ['tag'], () => l.getTagById({ locationId: LOC, tagId }));
  await check('updateTag', ['tag'], () => l.updateTag({ locationId: LOC, tagId }, { name: `sdk-${stamp}-renamed` }));
  await check('deleteTag', ['succeded'], () => l.deleteTag({ locationId: LOC, tagId }));
  await check('getCustomFields', ['customFields'], () => l.getCustomFields({ locationId: LOC }));
  const field = await check('createCustomField', ['customField'], () =>
    l.createCustomField({ locationId: LOC }, { name: `Sdk Field ${stamp}`, dataType: 'TEXT' }));
  const fieldId = field ? field.customField.id : 'missing';
  if (field && field.customField.fieldKey === `contact.sdk_field_${stamp}`) ok('createCustomField derives fieldKey');
  else fail('createCustomField derives fieldKey', JSON.stringify(field));
  await check('getCustomField', ['customField'], () => l.getCustomField({ locationId: LOC, id: fieldId }));
  await check('updateCustomField', ['customField'], () => l.updateCustomField({ locationId: LOC, id: fieldId }, { name: 'Sdk Field (renamed)' }));
  await check('deleteCustomField', ['succeded'], () => l.deleteCustomField({ locationId: LOC, id: fieldId }));
  await check('getCustomValues', ['customValues'], () => l.getCustomValues({ locationId: LOC }));
  const value = await check('createCustomValue', ['customValue'], () =>
    l.createCustomValue({ locationId: LOC }, { name: `Sdk Value ${stamp}`, value: 'one' }));
  const valueId = value ? value.customValue.id : 'missing';
  await check('getCustomValue', ['customValue'], () => l.getCustomValue({ locationId: LOC, id: valueId }));
  await check('updateCustomValue', ['customValue'], () => l.updateCustomValue({ locationId: LOC, id: valueId }, { name: 'Sdk Value', value: 'two' }));
  await check('deleteCustomValue', ['succeded'], () => l.deleteCustomValue({ locationId: LOC, id: valueId }));
  await expectError('a deleted custom value → GHLNotFoundError', 'GHLNotFoundError', 404, () =>
    l.getCustomValue({ locationId: LOC, id: valueId }));
  await expectError('another location → GHLForbiddenError', 'GHLForbiddenError', 403, () =>
    l.getCustomFields({ locationId: 'loc_elsewhere' }));

  const b = ghl.businesses;
  service = 'businesses';
  await check('getBusinessesByLocation', ['businesses'], () => b.getBusinessesByLocation({ locationId: LOC }));
  const biz = await check('createBusiness', ['success', 'buiseness'], () =>
    b.createBusiness({ name: `Sdk Business ${stamp}`, locationId: LOC, city: 'Leeds' }));
  const businessId = biz ? biz.buiseness.id : 'missing';
  await check('getBusiness', ['business'], () => b.getBusiness({ businessId }));
  await check('updateBusiness', ['success', 'buiseness'], () => b.updateBusiness({ businessId }, { city: 'York' }));
  await check('deleteBusiness', ['success'], () => b.deleteBusiness({ businessId }));
  await expectError('business without a name → GHLValidationError', 'GHLValidationError', 422, () =>
    b.createBusiness({ locationId: LOC }));

  const o = ghl.opportunities;
  service = 'opportunities';
  await check('getPipelines', ['pipelines'], () => o.getPipelines({ locationId: LOC }));
  await check('getLostReason', ['lostReasons', 'total'], () => o.getLostReason({ locationId: LOC }));
  await check('searchOpportunity', ['opportunities', 'meta', 'aggregations'], () =>
    o.searchOpportunity({ locationId: LOC, status: 'open' })); // sent as location_id
  await check('searchOpportunitiesAdvanced', ['opportunities', 'total', 'aggregations'], () =>
    o.searchOpportunitiesAdvanced({ locationId: LOC, query: 'renewal', limit: 10, page: 1 }));
  const opp = await check('createOpportunity', ['opportunity'], () => o.createOpportunity({
    pipelineId: 'pl_sales', locationId: LOC, name: `Sdk deal ${stamp}`, status: 'open', contactId: 'ct_grace',
  }));
  const id = opp ? opp.opportunity.id : 'missing';
  await check('getOpportunity', ['opportunity'], () => o.getOpportunity({ id }));
  await check('updateOpportunity', ['opportunity'], () => o.updateOpportunity({ id }, { monetaryValue: 500 }));
  await check('updateOpportunityStatus', ['succeded'], () => o.updateOpportunityStatus({ id }, { status: 'won' }));
  const up = await check('upsertOpportunity', ['opportunity', 'new'], () => o.upsertOpportunity({
    pipelineId: 'pl_sales', locationId: LOC, contactId: 'ct_grace', name: 'Upserted',
  }));
  if (up && up.new === false && up.opportunity.id === id) ok('upsertOpportunity updates the contact\'s opportunity in the pipeline');
  else fail('upsertOpportunity updates the contact\'s opportunity in the pipeline', JSON.stringify(up));
  await check('addFollowersOpportunity', ['followers', 'followersAdded'], () => o.addFollowersOpportunity({ id }, { followers: ['usr_sandbox'] }));
  await check('removeFollowersOpportunity', ['followers', 'followersRemoved'], () => o.removeFollowersOpportunity({ id }, { followers: ['usr_sandbox'] }));
  await check('deleteOpportunity', ['succeded'], () => o.deleteOpportunity({ id }));

  // The Conversations API's Version is 2021-04-15.
  const cv = new HighLevel({ privateIntegrationToken: TOKEN, apiVersion: '2021-04-15', logLevel: 'none' });
  cv.getHttpClient().defaults.baseURL = BASE;
  const v = cv.conversations;
  service = 'conversations';
  const sent = await check('sendANewMessage', ['conversationId', 'messageId', 'msg'], () =>
    v.sendANewMessage({ type: 'SMS', contactId: 'ct_ada', message: 'Sent by the SDK check', status: 'pending', subType: 'SMS' }));
  const conversationId = sent ? sent.conversationId : 'missing';
  const messageId = sent ? sent.messageId : 'missing';
  await check('searchConversation', ['conversations', 'total'], () => v.searchConversation({ locationId: LOC, contactId: 'ct_ada' }));
  await check('getConversation', ['id', 'contactId', 'locationId', 'unreadCount'], () => v.getConversation({ conversationId }));
  await check('updateConversation', ['success', 'conversation'], () => v.updateConversation({ conversationId }, { locationId: LOC, starred: true }));
  await check('getMessage', ['id', 'type', 'messageType', 'conversationId', 'body', 'direction', 'contentType'], () => v.getMessage({ id: messageId }));
  await check('addAnInboundMessage', ['success', 'conversationId', 'messageId'], () => v.addAnInboundMessage({
    type: 'SMS', conversationId, contactId: 'ct_ada', conversationProviderId: 'prov_sandbox', message: 'A reply',
  }));
  await check('addAnOutboundMessage', ['success', 'conversationId', 'messageId'], () => v.addAnOutboundMessage({
    type: 'Call', conversationId, conversationProviderId: 'prov_sandbox',
  }));
  const listed = await check('getMessages', ['lastMessageId', 'nextPage', 'messages'], () => v.getMessages({ conversationId, limit: 10 }));
  if (listed && listed.messages.length === 3 && listed.messages[0].direction === 'outbound' && listed.messages[1].direction === 'inbound') {
    ok('getMessages lists the conversation\'s messages, newest first');
  } else {
    fail('getMessages lists the conversation\'s messages, newest first', JSON.stringify(listed).slice(0, 300));
  }
  await check('updateMessageStatus', ['messageId', 'status'], () => v.updateMessageStatus({ messageId }, { status: 'delivered' }));
  const later = await v.sendANewMessage({
    type: 'SMS', contactId: 'ct_ada', message: 'Later', status: 'pending', subType: 'SMS', scheduledTimestamp: Math.floor(stamp / 1000) + 3600,
  });
  await check('cancelScheduledMessage', ['status', 'message'], () => v.cancelScheduledMessage({ messageId: later.messageId }));
  const started = await check('createConversation', ['success', 'conversation'], () => v.createConversation({ locationId: LOC, contactId: 'ct_grace' }));
  await check('deleteConversation', ['success'], () => v.deleteConversation({ conversationId: started ? started.conversation.id : 'missing' }));
  const readonly = new HighLevel({ privateIntegrationToken: 'sandbox-readonly', apiVersion: '2021-04-15', logLevel: 'none' });
  readonly.getHttpClient().defaults.baseURL = BASE;
  await expectError('read-only token sending → GHLForbiddenError', 'GHLForbiddenError', 403, () =>
    readonly.conversations.sendANewMessage({ type: 'SMS', contactId: 'ct_ada', message: 'x', status: 'pending', subType: 'SMS' }));
  const headers = await fetch(`${BASE}/locations/${LOC}/tags`, { headers: { authorization: `Bearer ${TOKEN}`, version: '2021-07-28' } });
  if (headers.status === 200 && headers.headers.get('x-ratelimit-remaining') !== null) ok('rate-limit headers on the other APIs');
  else fail('rate-limit headers on the other APIs', `${headers.status} ${[...headers.headers.keys()].join(',')}`);
}

main()
  .catch((e) => fail('check.js', describe(e)))
  .finally(() => {
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed === 0 ? 0 : 1;
  });
