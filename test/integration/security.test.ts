// User code cannot reach the host: no Node globals, no isolated-vm handles anywhere reachable from
// the global scope, no way out through Function constructors or stack frames; tampering with the
// guest's own Web APIs or built-ins fails at most that worker's request; workers share nothing.
// One flarelet process serves every worker (configs in a temp dir, addressed by Host).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { httpRequest, projectRoot, startFlarelet } from '../support/flarelet.ts';
import type { FlareletHandle, HttpResult } from '../support/flarelet.ts';

const fixtures = join(projectRoot, 'test', 'fixtures', 'apis');

const TAMPERINGS = [
  'response-headers-getter',
  'response-status-getter',
  'array-push',
  'object-prototype',
  'object-prototype-then',
  'throwing-then',
  'promise-then',
  'json-and-encoding',
  'globals-replaced',
  'function-prototype',
  'tostring-throws',
  'tostring-huge',
  'tostring-spin',
  'response-like-getters',
];

// The globals a Workers global scope adds to JavaScript's own (workerd's names; Flarelet may have
// fewer, never other ones).
const WEB_GLOBALS = new Set([
  'ReadableStream', 'WritableStream', 'TransformStream', 'ByteLengthQueuingStrategy', 'CountQueuingStrategy',
  'ReadableStreamDefaultReader', 'ReadableStreamBYOBReader', 'ReadableStreamDefaultController', 'ReadableByteStreamController',
  'ReadableStreamBYOBRequest', 'WritableStreamDefaultWriter', 'WritableStreamDefaultController', 'TransformStreamDefaultController',
  'TextEncoderStream', 'TextDecoderStream', 'CompressionStream', 'DecompressionStream', 'IdentityTransformStream', 'FixedLengthStream',
  'URL', 'URLSearchParams', 'URLPattern', 'AbortController', 'AbortSignal', 'Blob', 'File', 'Crypto', 'CryptoKey', 'SubtleCrypto',
  'DigestStream', 'DOMException', 'TextEncoder', 'TextDecoder', 'Event', 'EventTarget', 'CustomEvent', 'ErrorEvent', 'MessageEvent',
  'CloseEvent', 'PromiseRejectionEvent', 'FetchEvent', 'ScheduledEvent', 'ScheduledController', 'ExecutionContext', 'FormData',
  'Headers', 'Request', 'Response', 'WebSocket', 'WebSocketPair', 'Cache', 'CacheStorage', 'caches', 'HTMLRewriter', 'Navigator',
  'navigator', 'Performance', 'performance', 'MessageChannel', 'MessagePort', 'EventSource', 'Socket', 'connect', 'scheduler', 'Scheduler',
  'fetch', 'atob', 'btoa', 'structuredClone', 'setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'queueMicrotask',
  'reportError', 'crypto', 'console', 'self', 'addEventListener', 'removeEventListener', 'dispatchEvent', 'onfetch', 'origin',
  'WorkerGlobalScope', 'ServiceWorkerGlobalScope', 'GPUAdapter', 'gpu', 'ExtendableEvent', 'TailEvent', 'TraceEvent',
]);

describe('user code cannot reach the host', () => {
  let f: FlareletHandle;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flarelet-security-'));
    const configs: string[] = [];
    const config = async (name: string, main: string, vars: Record<string, string> = {}) => {
      const file = join(dir, `${name}.json`);
      await writeFile(file, JSON.stringify({ name, main: join(fixtures, main), compatibility_date: '2024-09-23', vars }));
      configs.push('-c', file);
    };
    await config('probe-a', 'isolation-probe.js');
    await config('probe-b', 'isolation-probe.js');
    for (const t of TAMPERINGS) await config(`tamper-${t}`, 'tamper.js', { TAMPER: t });
    f = await startFlarelet({ entries: [], args: [...configs, '--no-watch'], startTimeoutMs: 60_000 });
  });
  after(async () => {
    await f?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const at = (worker: string, path: string, init: Parameters<typeof httpRequest>[1] = {}): Promise<HttpResult> =>
    httpRequest(`${f.url}${path}`, { ...init, headers: { ...(init.headers ?? {}), host: `${worker}.localhost:${f.port}` } });
  const json = async (worker: string, path: string, init?: Parameters<typeof httpRequest>[1]) => {
    const res = await at(worker, path, init);
    assert.equal(res.status, 200, `${worker} ${path}: ${res.text.slice(0, 300)}`);
    return JSON.parse(res.text);
  };

  test('no Node or bridge globals: process, require, module, __flareletHostSend, __flareletGuest', async () => {
    const p = await json('probe-a', '/probes');
    assert.equal(p.process, 'undefined');
    assert.equal(p.require, 'undefined', 'no global require');
    assert.equal(p.requireLoads, 'threw', 'require (or the bundler\'s shim) loads no host module');
    assert.equal(p.module, 'undefined');
    assert.equal(p.exports, 'undefined');
    assert.equal(p.global, 'undefined');
    assert.equal(p.Buffer, 'undefined');
    assert.equal(p.hostSend, 'undefined');
    assert.equal(p.hostRandom, 'undefined');
    assert.equal(p.guest, 'undefined');
    assert.deepEqual(p.flareletNames, []);
  });

  test('constructor.constructor("return this")() and Function() stay inside the isolate', async () => {
    const p = await json('probe-a', '/probes');
    if ('blocked' in p.escaped) {
      assert.match(p.escaped.blocked, /^EvalError: /, 'blocked as workerd does (code generation disallowed)');
    } else {
      assert.deepEqual(p.escaped, { same: true, process: 'undefined', require: 'undefined' });
    }
    if (!String(p.viaFunction).startsWith('blocked')) assert.equal(p.viaFunction, 'undefined,undefined,undefined');
    // stack frames' receivers are the isolate's own objects, never the host's
    for (const kind of [].concat(p.viaCallsites)) assert.ok(kind === 'undefined' || kind === 'n/a', `a frame's this has process: ${kind}`);
  });

  test('errors raised by host operations carry no host file paths in their stacks', async () => {
    const p = await json('probe-a', '/probes');
    for (const [what, stack] of Object.entries(p.stacks as Record<string, string | null>)) {
      assert.ok(stack, `${what} rejected`);
      assert.doesNotMatch(stack!, /src\/runtime|src\/edge|node_modules|node:internal|isolated-vm|\/work\//, `${what} stack: ${stack}`);
    }
  });

  test('nothing reachable from globalThis is native code of the host or an isolated-vm handle', async () => {
    const baseline = runInNewContext('Object.getOwnPropertyNames(globalThis)') as string[];
    const scan = await json('probe-a', '/scan', { method: 'POST', body: JSON.stringify(baseline), headers: { 'content-type': 'application/json' } });
    const unexpected = (scan.names as string[]).filter((n) => !baseline.includes(n) && !WEB_GLOBALS.has(n));
    assert.deepEqual(unexpected, [], 'globals that are neither JavaScript\'s nor a Workers Web API');
    assert.deepEqual(scan.hostLike, [], 'isolated-vm Reference / ExternalCopy / Callback-like objects');
    // Web APIs are JavaScript of the guest bundle; a [native code] function that JavaScript itself
    // does not provide could be a host callback. Bound functions also print as native code, so
    // report them all: there should be none.
    assert.deepEqual(scan.nativeOutsideBaseline, [], 'functions with native source outside JavaScript\'s built-ins');
  });

  test('the scanner itself finds a planted host-like function and handle (harness check)', async () => {
    const source = (await readFile(join(fixtures, 'scan-globals.js'), 'utf8')).replace('export function', 'function');
    const baseline = runInNewContext('Object.getOwnPropertyNames(globalThis)') as string[];
    const result = runInNewContext(
      `${source}
      globalThis.leakedCallback = function hostCallback() {}.bind(null);
      globalThis.api = { nested: { handle: { derefInto() {}, applySync() {} } } };
      scanGlobals(${JSON.stringify(baseline)})`,
    ) as { nativeOutsideBaseline: string[]; hostLike: string[]; names: string[] };
    assert.deepEqual([...result.nativeOutsideBaseline], ['leakedCallback']);
    assert.deepEqual([...result.hostLike], ['api.nested.handle (has derefInto, applySync)']);
  });

  test('two workers in one process do not share globals or prototypes', async () => {
    assert.deepEqual(await json('probe-a', '/read'), { sharedSecret: 'undefined', polluted: 'undefined' });
    assert.deepEqual(await json('probe-a', '/set?who=a'), { set: 'set by a' });
    assert.deepEqual(await json('probe-a', '/read'), { sharedSecret: 'set by a', polluted: 'string' }, 'A keeps its own global');
    assert.deepEqual(await json('probe-b', '/read'), { sharedSecret: 'undefined', polluted: 'undefined' }, 'B does not see it');
  });

  for (const t of TAMPERINGS) {
    test(`tampering (${t}) fails at most that request; another worker still answers`, async () => {
      const res = await at(`tamper-${t}`, '/tamper', { timeoutMs: 20_000 });
      // the tampered worker itself may now be broken, but it must answer (no hang, no crash)
      const later = await at(`tamper-${t}`, '/after', { timeoutMs: 20_000 });
      // a second worker of the same process is untouched
      const other = await at('probe-b', '/');
      assert.equal(other.status, 200, `${t}: the other worker answers`);
      assert.equal(other.text, 'ok from probe');
      const probes = await json('probe-b', '/probes');
      assert.equal(probes.process, 'undefined');

      assert.ok(later.status === 200 || later.status === 500, `${t}: later status ${later.status}`);
      if (t === 'tostring-spin') {
        // a toString that never returns is a CPU-limit case, not a crash
        assert.equal(res.status, 503, `${t}: status ${res.status}`);
        assert.equal(res.text, 'error code: 1102');
        return;
      }
      if (t === 'tostring-throws') assert.equal(res.status, 200, `${t}: ${res.text}`);
      if (t === 'tostring-huge') {
        // serialising 20 MB may cost more than the CPU limit: logged (truncated) or 1102, never a crash
        assert.ok(res.status === 200 || res.text === 'error code: 1102', `${t}: ${res.status} ${res.text}`);
        return;
      }
      if (t === 'response-like-getters') assert.equal(res.status, 500, 'a Response-like object is not a Response');
      // what the client gets comes from the runtime's own state, never from getters user code
      // replaced: a tampered request answers as written (200) or fails as an exception (500)
      assert.ok(res.status === 200 || res.status === 500, `${t}: status ${res.status} ${res.text.slice(0, 200)}`);
      if (res.status === 500) assert.equal(res.text, 'error code: 1101', `${t}: a failed request is a 1101`);
      if (t === 'throwing-then') assert.equal(res.status, 500, 'a throwing then() is an exception');
    });
  }

  test('the process is still up and serving after all of it', async () => {
    const res = await at('probe-a', '/');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'ok from probe');
    assert.doesNotMatch(f.stderr(), /FATAL|Segmentation|Abort|node:internal.*Error/i);
  });
});
