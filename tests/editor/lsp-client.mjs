// A minimal language server client over stdio (Content-Length framing), for driving
// yaml-language-server as VS Code does: settings answered from `workspace/configuration`,
// diagnostics collected per document.
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

export class Client {
  constructor(bin, root) {
    this.root = root;
    this.proc = spawn(process.execPath, [bin, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.buf = Buffer.alloc(0);
    this.nextId = 1;
    this.pending = new Map();
    this.diagnostics = new Map();
    this.waiters = [];
    this.stderr = '';
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    this.proc.stdout.on('data', (d) => this.onData(d));
    this.settings = {};
  }
  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const sep = this.buf.indexOf('\r\n\r\n');
      if (sep < 0) return;
      const header = this.buf.subarray(0, sep).toString();
      const m = /Content-Length: (\d+)/i.exec(header);
      const len = Number(m[1]);
      if (this.buf.length < sep + 4 + len) return;
      const body = JSON.parse(this.buf.subarray(sep + 4, sep + 4 + len).toString());
      this.buf = this.buf.subarray(sep + 4 + len);
      this.onMessage(body);
    }
  }
  onMessage(msg) {
    if (msg.id !== undefined && msg.method === undefined) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (p) (msg.error ? p.reject(new Error(JSON.stringify(msg.error))) : p.resolve(msg.result));
    } else if (msg.id !== undefined) {
      // a request from the server
      let result = null;
      if (msg.method === 'workspace/configuration') {
        result = msg.params.items.map((i) => (i.section === 'yaml' ? this.settings.yaml : this.settings[i.section] ?? null));
      }
      this.send({ jsonrpc: '2.0', id: msg.id, result });
    } else if (msg.method === 'textDocument/publishDiagnostics') {
      this.diagnostics.set(msg.params.uri, msg.params.diagnostics);
      this.waiters = this.waiters.filter((w) => !w(msg.params));
    }
  }
  send(msg) {
    const text = JSON.stringify(msg);
    this.proc.stdin.write(`Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  }
  request(method, params) {
    const id = this.nextId++;
    this.send({ jsonrpc: '2.0', id, method, params });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      setTimeout(() => reject(new Error(`${method}: no answer in 20 s`)), 20000).unref();
    });
  }
  notify(method, params) { this.send({ jsonrpc: '2.0', method, params }); }
  async start(settings) {
    this.settings = settings;
    await this.request('initialize', {
      processId: process.pid,
      rootUri: pathToFileURL(this.root).href,
      workspaceFolders: [{ uri: pathToFileURL(this.root).href, name: 'project' }],
      capabilities: {
        workspace: { configuration: true },
        textDocument: {
          hover: { contentFormat: ['markdown', 'plaintext'] },
          completion: { completionItem: { snippetSupport: true, documentationFormat: ['markdown'] } },
        },
      },
    });
    this.notify('initialized', {});
    this.notify('workspace/didChangeConfiguration', { settings });
  }
  /** Opens a file and waits for its diagnostics. */
  open(path, text) {
    const uri = pathToFileURL(path).href;
    const got = new Promise((resolve) => {
      this.waiters.push((p) => { if (p.uri === uri) { resolve(p.diagnostics); return true; } return false; });
    });
    this.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'yaml', version: 1, text } });
    return got.then((d) => ({ uri, diagnostics: d }));
  }
  hover(uri, line, character) { return this.request('textDocument/hover', { textDocument: { uri }, position: { line, character } }); }
  completion(uri, line, character) { return this.request('textDocument/completion', { textDocument: { uri }, position: { line, character } }); }
  async stop() {
    await this.request('shutdown', null).catch(() => {});
    this.notify('exit', null);
    this.proc.stdin.end();
  }
}
