// yaml-language-server — what VS Code's YAML extension (and Neovim's, Helix's, Zed's yamlls)
// runs — on a project made by `sluice init`, with the `.vscode/settings.json` mapping it writes:
// the example flows and fixtures raise nothing; an unknown action, a bad duration and an unknown
// `with:` parameter are flagged in words a person understands; hover shows one short text per
// key; completion offers the actions without junk entries.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from './lsp-client.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const sluice = process.env.SLUICE_BIN ?? path.join(repo, 'target/debug/sluice');
const server = path.join(here, 'node_modules/yaml-language-server/bin/yaml-language-server');

let tmp;
let project;
let client;
const contact360 = fs.readFileSync(path.join(repo, 'workflows/contact-360.yaml'), 'utf8');

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-editor-'));
  execFileSync(sluice, ['init', 'p'], { cwd: tmp, env: { ...process.env, NO_COLOR: '1' } });
  project = path.join(tmp, 'p');
  // Every example flow, fixture and cassette, then the project's schema refreshed for them.
  for (const name of fs.readdirSync(path.join(repo, 'workflows'))) {
    fs.copyFileSync(path.join(repo, 'workflows', name), path.join(project, 'workflows', name));
  }
  execFileSync(sluice, ['schema', 'flow', '--write'], { cwd: project });
  const settings = JSON.parse(fs.readFileSync(path.join(project, '.vscode/settings.json'), 'utf8'));
  client = new Client(server, project);
  await client.start({
    yaml: { validate: true, hover: true, completion: true, schemas: settings['yaml.schemas'] },
  });
});

after(async () => {
  await client?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Opens `text` as `workflows/NAME` and returns its diagnostics' `[line, message]`. */
async function check(name, text) {
  const { diagnostics } = await client.open(path.join(project, 'workflows', name), text);
  return diagnostics.map((d) => [d.range.start.line, d.message]);
}

/** `[line, character]` of `needle` in `text`, `shift` characters into it. */
function at(text, needle, shift = 0) {
  const i = text.indexOf(needle);
  assert.ok(i >= 0, `${needle} in the text`);
  const before = text.slice(0, i + shift);
  const line = before.split('\n').length - 1;
  return [line, before.length - before.lastIndexOf('\n') - 1];
}

test('the example flows and their fixtures raise nothing', async () => {
  const names = fs.readdirSync(path.join(project, 'workflows')).filter((n) => n.endsWith('.yaml'));
  assert.ok(names.some((n) => n.endsWith('.test.yaml')), 'fixtures are among them');
  for (const name of names) {
    const text = fs.readFileSync(path.join(project, 'workflows', name), 'utf8');
    assert.deepEqual(await check(name, text), [], name);
  }
});

test('an unknown action is flagged, with what to do', async () => {
  const text = contact360.replace('action: ghl.get_contact', 'action: ghl.get_contcat');
  const problems = await check('unknown-action.yaml', text);
  assert.equal(problems.length, 1, JSON.stringify(problems));
  const [line, message] = problems[0];
  assert.equal(line, at(text, 'ghl.get_contcat')[0]);
  assert.match(message, /^Not an action of this project's connections/);
  assert.match(message, /sluice schema flow --write/);
});

test('a bad duration is flagged in words, not as a regular expression', async () => {
  for (const bad of ['30x', 'soon']) {
    const text = contact360.replace('    retry: {', `    timeout: ${bad}\n    retry: {`);
    const problems = await check(`timeout-${bad}.yaml`, text);
    assert.equal(problems.length, 1, `${bad}: ${JSON.stringify(problems)}`);
    const [line, message] = problems[0];
    assert.equal(line, at(text, `timeout: ${bad}`)[0]);
    assert.match(message, /^A duration is a number and a unit, e\.g\. `500ms`/);
    assert.doesNotMatch(message, /\\s|\[0-9\]|\^/, 'no pattern in the message');
  }
  const ok = contact360.replace('    retry: {', '    timeout: 1h30m\n    retry: {');
  assert.deepEqual(await check('timeout-ok.yaml', ok), []);
});

test('a step name templates cannot read is flagged in words', async () => {
  const text = contact360.replace('  open_tasks:', '  open tasks:');
  const problems = await check('step-name.yaml', text);
  assert.equal(problems.length, 1, JSON.stringify(problems));
  assert.equal(problems[0][0], at(text, '  open tasks:')[0]);
  assert.match(problems[0][1], /^A step name starts with a letter or `_`/);
});

test('a parameter the action does not take is flagged', async () => {
  const text = contact360.replace(
    'with: { contactId: "{{ inputs.contactId }}" }',
    'with: { contactId: "{{ inputs.contactId }}", limit: 3 }',
  );
  const problems = await check('unknown-param.yaml', text);
  assert.deepEqual(problems, [[at(text, 'limit: 3')[0], 'Property limit is not allowed.']]);
});

test('hover shows one short description per key', async () => {
  const { uri } = await client.open(path.join(project, 'workflows/contact-360.yaml'), contact360);
  const hover = async (needle, shift) => {
    const [line, character] = at(contact360, needle, shift);
    return (await client.hover(uri, line, character))?.contents?.value ?? '';
  };
  const action = await hover('action: ghl.get_contact', 2);
  assert.match(action, /The operation to call, \\`connection\.operation\\`/);
  assert.doesNotMatch(action, /Example:/);
  assert.ok(action.length < 400, `short: ${action.length} characters`);
  const retry = await hover('retry: {', 1);
  assert.match(retry, /Try again after a failure\./);
  assert.doesNotMatch(retry, /Retry settings|\|\|/, 'only the key\'s own text');
});

test('completion offers the actions and the parameters, without junk', async () => {
  const { uri } = await client.open(path.join(project, 'workflows/contact-360.yaml'), contact360);
  const [line, character] = at(contact360, 'action: ghl.get_contact', 8);
  const { items } = await client.completion(uri, line, character);
  const labels = items.map((i) => i.label);
  assert.ok(labels.includes('ghl.get_contact') && labels.includes('ghl.list_notes'), labels.join());
  assert.deepEqual(labels.filter((l) => !/^[a-z-]+\.[a-z_]+$/.test(l)), [], 'nothing but actions');

  const text = `name: t\nconnections:\n  ghl: { connector: ghl-contacts }\nsteps:\n  list:\n    action: ghl.get_contacts\n    with:\n      locationId: x\n      \n`;
  const opened = await client.open(path.join(project, 'workflows/params.yaml'), text);
  const params = (await client.completion(opened.uri, 8, 6)).items.map((i) => i.label);
  assert.deepEqual(params.sort(), ['limit', 'query', 'startAfter', 'startAfterId']);
});
