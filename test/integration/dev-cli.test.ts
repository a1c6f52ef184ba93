// `flarelet dev` as a user meets it: worker names, wrangler.toml / .json / .jsonc, output formats,
// reload on change, load errors and recovery, the API port, signals, usage errors, bundling.
// Files that get edited live in temp dirs; tracked fixtures are never modified.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, httpRequest, projectRoot, startFlarelet, waitForHttp } from '../support/flarelet.ts';
import type { FlareletHandle, HttpResult, TraceEvent } from '../support/flarelet.ts';

const flareletBin = join(projectRoot, 'bin', 'flarelet');
const cliFixtures = join(projectRoot, 'test', 'fixtures', 'cli');

// ---------------------------------------------------------------------------------------------
// helpers

interface Cli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** exit code (or the signal's name) once it has exited */
  exited: Promise<number | string>;
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** Runs bin/flarelet with exactly these arguments (no ports or --format added). */
function runCli(args: string[], cwd = projectRoot): Cli {
  const child = spawn(flareletBin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
  let out = '';
  let err = '';
  const wake = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    for (const w of [...wake]) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    err += s;
    for (const w of [...wake]) w();
  });
  let alive = true;
  const exited = new Promise<number | string>((done) =>
    child.once('exit', (code, signal) => {
      alive = false;
      done(code ?? signal ?? -1);
      for (const w of [...wake]) w();
    }),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(stream, pattern, timeoutMs) {
      return new Promise((done, fail) => {
        const check = () => {
          if (pattern.test(stream === 'stdout' ? out : err)) {
            cleanup();
            done();
          } else if (!alive) {
            cleanup();
            fail(new Error(`exited before ${stream} matched ${pattern}\nstdout:\n${out}\nstderr:\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          fail(new Error(`${stream} did not match ${pattern} within ${timeoutMs} ms\nstdout:\n${out}\nstderr:\n${err}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          wake.delete(check);
        };
        wake.add(check);
        check();
      });
    },
    async stop() {
      if (!alive) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => alive && child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A run that must end by itself (usage and configuration errors) within `timeoutMs`. */
async function runToExit(args: string[], cwd = projectRoot, timeoutMs = 20_000): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const cli = runCli(args, cwd);
  const timer = setTimeout(() => cli.child.kill('SIGKILL'), timeoutMs);
  const code = await cli.exited;
  clearTimeout(timer);
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

async function tempDir(t: { after(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `flarelet-cli-${prefix}-`));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const viaHost = (f: FlareletHandle, name: string, path = '/', init: Parameters<typeof httpRequest>[1] = {}) =>
  httpRequest(`${f.url}${path}`, { ...init, headers: { ...(init.headers ?? {}), host: `${name}.localhost:${f.port}` } });

/** Repeats `probe` until `ok` holds (reloads are asynchronous); returns the last result. */
async function eventually(probe: () => Promise<HttpResult>, ok: (r: HttpResult) => boolean, timeoutMs: number): Promise<HttpResult> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 150));
    last = await probe();
  }
  return last;
}

/** Waits until the stderr of a flarelet handle matches `pattern`. */
async function stderrMatches(f: FlareletHandle, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(f.stderr())) {
    if (Date.now() > deadline) throw new Error(`stderr did not match ${pattern} within ${timeoutMs} ms:\n${f.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return f.stderr();
}

const scriptNames = (events: TraceEvent[]) => [...new Set(events.map((e) => e.scriptName))].sort();

// ---------------------------------------------------------------------------------------------

describe('flarelet dev: worker names and config files', () => {
  test('name: wrangler.toml name > --name > file base name', async (t) => {
    const withToml = await tempDir(t, 'toml');
    await writeFile(join(withToml, 'wrangler.toml'), 'name = "from-toml"\nmain = "worker.js"\n');
    await writeFile(join(withToml, 'worker.js'), 'export default { fetch: () => new Response("toml dir") };\n');
    const plain = await tempDir(t, 'plain');
    await writeFile(join(plain, 'Plain_Base.js'), 'export default { fetch: () => new Response("plain dir") };\n');

    // no --name: the config's name, and the file's base name (lowercased) where there is no config
    const f = await startFlarelet({ entries: [join(withToml, 'worker.js'), join(plain, 'Plain_Base.js')], args: ['--no-watch'] });
    t.after(() => f.stop());
    assert.equal((await viaHost(f, 'from-toml')).text, 'toml dir');
    assert.equal((await viaHost(f, 'plain_base')).text, 'plain dir');
    assert.deepEqual(scriptNames(await f.waitForEvents(2, 10_000)), ['from-toml', 'plain_base']);
    await f.stop();

    // --name loses to the config's name
    const g = await startFlarelet({ entries: [join(withToml, 'worker.js')], args: ['--name', 'from-flag', '--no-watch'] });
    t.after(() => g.stop());
    assert.equal((await viaHost(g, 'from-toml')).text, 'toml dir');
    assert.equal((await g.waitForEvents(1, 10_000))[0]!.scriptName, 'from-toml');
    await g.stop();

    // --name beats the file name
    const h = await startFlarelet({ entries: [join(plain, 'Plain_Base.js')], args: ['--name', 'from-flag', '--no-watch'] });
    t.after(() => h.stop());
    assert.equal((await viaHost(h, 'from-flag')).text, 'plain dir');
    assert.equal((await h.waitForEvents(1, 10_000))[0]!.scriptName, 'from-flag');
  });

  test('wrangler.json and wrangler.jsonc: name, main (relative to the file) and vars', async (t) => {
    const jsonDir = await tempDir(t, 'json');
    await mkdir(join(jsonDir, 'src'));
    await writeFile(join(jsonDir, 'wrangler.json'), JSON.stringify({ name: 'json-worker', main: 'src/main.js', vars: { SOURCE: 'json', N: '1' } }));
    await writeFile(
      join(jsonDir, 'src', 'main.js'),
      'export default { fetch: (req, env) => Response.json({ source: env.SOURCE, n: env.N, file: "json main" }) };\n',
    );
    const jsoncDir = await tempDir(t, 'jsonc');
    await writeFile(
      join(jsoncDir, 'wrangler.jsonc'),
      `// comments are allowed here
{
  "name": "jsonc-worker", /* so are block comments */
  "main": "./entry.js",
  "compatibility_date": "2024-09-23",
  "vars": { "SOURCE": "jsonc", },
}
`,
    );
    await writeFile(join(jsoncDir, 'entry.js'), 'export default { fetch: (req, env) => Response.json({ source: env.SOURCE, file: "jsonc entry" }) };\n');

    // -c for both files; then a run with no argument at all reads the jsonc of its cwd
    const f = await startFlarelet({ entries: [], args: ['-c', join(jsonDir, 'wrangler.json'), '-c', join(jsoncDir, 'wrangler.jsonc'), '--no-watch'] });
    t.after(() => f.stop());
    assert.deepEqual(JSON.parse((await viaHost(f, 'json-worker')).text), { source: 'json', n: '1', file: 'json main' });
    assert.deepEqual(JSON.parse((await viaHost(f, 'jsonc-worker')).text), { source: 'jsonc', file: 'jsonc entry' });
    await f.stop();

    const g = await startFlarelet({ entries: [], args: ['--no-watch', '--var', 'SOURCE=cli'], cwd: jsoncDir });
    t.after(() => g.stop());
    const res = await httpRequest(`${g.url}/`);
    assert.deepEqual(JSON.parse(res.text), { source: 'cli', file: 'jsonc entry' }, 'the cwd config is served; --var overrides its vars');
    assert.equal((await g.waitForEvents(1, 10_000))[0]!.scriptName, 'jsonc-worker');
  });

  test('a malformed config exits with code 2 and a message naming the file', async (t) => {
    const dir = await tempDir(t, 'bad');
    await writeFile(join(dir, 'worker.js'), 'export default { fetch: () => new Response("x") };\n');
    const cases: [string, string][] = [
      ['bad.toml', 'name = "unterminated\nmain = "worker.js"\n'],
      ['wrangler.json', '{ "name": "x", "main": "worker.js", }}'],
      ['broken.jsonc', '{ "name": "x" /* never closed'],
      ['badname.json', JSON.stringify({ name: 'Not A Name!', main: 'worker.js' })],
    ];
    for (const [file, text] of cases) {
      await writeFile(join(dir, file), text);
      const run = await runToExit(['dev', '-c', join(dir, file), '--port', '0', '--api-port', '0']);
      assert.equal(run.code, 2, `${file}: exit code (stderr: ${run.stderr})`);
      assert.ok(run.stderr.includes(join(dir, file)), `${file}: the message names the file: ${run.stderr}`);
      assert.equal(run.stdout, '', `${file}: nothing on stdout`);
    }
    // a malformed config found in the cwd (no arguments) is reported the same way
    const cwdRun = await runToExit(['dev', '--port', '0', '--api-port', '0'], dir);
    assert.equal(cwdRun.code, 2, cwdRun.stderr);
    assert.match(cwdRun.stderr, /wrangler\.json/);
  });

  test('an unknown flag or a bad --format value exits with code 2 and the usage', async () => {
    const unknown = await runToExit(['dev', 'examples/hello-worker.js', '--no-such-flag']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no-such-flag/);
    assert.match(unknown.stderr, /Usage: flarelet dev/);
    assert.equal(unknown.stdout, '');
    const format = await runToExit(['dev', 'examples/hello-worker.js', '--format', 'yaml']);
    assert.equal(format.code, 2);
    assert.match(format.stderr, /--format/);
    const command = await runToExit(['deplyo']);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /Usage: flarelet/);
  });
});

// ---------------------------------------------------------------------------------------------

describe('flarelet dev: a live session (reload, load errors, API port, bundling)', () => {
  let dir: string;
  let live: string;
  let f: FlareletHandle;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flarelet-cli-live-'));
    live = join(dir, 'live.js');
    await writeFile(live, 'export default { fetch: (req) => new Response("version 1 " + new URL(req.url).pathname) };\n');
    await writeFile(join(dir, 'idle.js'), '// a service worker that registers nothing\nconst nothing = 1;\n');
    f = await startFlarelet({
      entries: [live, join(dir, 'idle.js'), join(cliFixtures, 'ts-worker.ts'), join(cliFixtures, 'echo-path.js')],
      args: ['-c', join(cliFixtures, 'project', 'wrangler.toml')],
    });
  });
  after(async () => {
    await f?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a service worker with no listeners is reported at load', async () => {
    await stderrMatches(f, /No event handlers were registered\. This script does nothing\./, 5000);
  });

  test('a .ts entry is bundled (types stripped)', async () => {
    const res = await viaHost(f, 'ts-worker', '/typed');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(JSON.parse(res.text), { lang: 'ts', sum: 5, path: '/typed' });
  });

  test('a multi-file project with relative imports and an npm import (hono) is bundled', async () => {
    const home = await viaHost(f, 'multi-file', '/');
    assert.equal(home.status, 200, home.text);
    assert.equal(home.text, 'hello from a multi-file project, toml!');
    const version = await viaHost(f, 'multi-file', '/version');
    assert.deepEqual(JSON.parse(version.text), { version: '1.2.3', framework: 'hono' });
    const any = await viaHost(f, 'multi-file', '/x/y', { method: 'DELETE' });
    assert.equal(any.text, 'any DELETE /x/y');
  });

  test('the API port is separate: GET / is an envelope; the worker port belongs to the worker', async () => {
    const api = await httpRequest(`http://127.0.0.1:${f.apiPort}/`);
    assert.equal(api.status, 200);
    assert.match(String(api.headers['content-type']), /^application\/json/);
    const envelope = JSON.parse(api.text);
    assert.equal(envelope.success, true);
    assert.deepEqual(envelope.errors, []);
    assert.ok(Array.isArray(envelope.messages));
    assert.ok('result' in envelope);
    const missing = await httpRequest(`http://127.0.0.1:${f.apiPort}/client/v4/nothing-here`);
    assert.equal(missing.status, 404);
    const notFound = JSON.parse(missing.text);
    assert.equal(notFound.success, false);
    assert.ok(Array.isArray(notFound.errors) && notFound.errors.length > 0);

    for (const path of ['/client/v4/accounts/abc/workers/scripts', '/metrics', '/', '/client/v4/']) {
      const res = await viaHost(f, 'echo-path', path);
      assert.equal(res.status, 200, `${path}: ${res.text}`);
      assert.equal(res.text, `echo GET ${path}`, `the worker answers ${path}`);
    }
    assert.notEqual(f.apiPort, f.port);
  });

  test('reload on change; a syntax error is reported and answered with 1101 until fixed; a top-level throw too', async () => {
    const get = () => viaHost(f, 'live', '/p');
    assert.equal((await get()).text, 'version 1 /p');

    await writeFile(live, 'export default { fetch: (req) => new Response("version 2 " + new URL(req.url).pathname) };\n');
    const v2 = await eventually(get, (r) => r.text === 'version 2 /p', 8000);
    assert.equal(v2.text, 'version 2 /p', 'the next request sees the new code');

    // a syntax error on line 3
    const before = f.stderr().length;
    await writeFile(live, '// line 1\nexport default {\n  fetch: (req) => new Response("broken" +),\n};\n');
    const broken = await eventually(get, (r) => r.status === 500, 8000);
    assert.equal(broken.status, 500);
    assert.equal(broken.text, 'error code: 1101');
    const report = (await stderrMatches(f, /live\.js:3|live\.js.*line 3/, 5000)).slice(before);
    assert.match(report, /live\.js:3|live\.js.*line 3/, 'stderr names the file and the line');

    // fixed: service comes back without a restart
    await writeFile(live, 'export default { fetch: () => new Response("version 3") };\n');
    const fixed = await eventually(get, (r) => r.status === 200, 8000);
    assert.equal(fixed.text, 'version 3');

    // a top-level throw
    const beforeThrow = f.stderr().length;
    await writeFile(live, 'throw new Error("top level boom");\nexport default { fetch: () => new Response("never") };\n');
    const thrown = await eventually(get, (r) => r.status === 500, 8000);
    assert.equal(thrown.text, 'error code: 1101');
    const throwReport = (await stderrMatches(f, /Uncaught Error: top level boom/, 5000)).slice(beforeThrow);
    assert.match(throwReport, /Uncaught Error: top level boom/);

    await writeFile(live, 'export default { fetch: () => new Response("version 4") };\n');
    assert.equal((await eventually(get, (r) => r.status === 200, 8000)).text, 'version 4');

    // the user's file and line (line 1 of live.js), not a line of the bundle made from it
    assert.match(throwReport, /live\.js:1:\d+/, `the throw's location in the user's file: ${throwReport}`);
  });

  test('--format json: stdout carries only trace events, one JSON object per line', async () => {
    await viaHost(f, 'echo-path', '/json-only');
    await viaHost(f, 'echo-path', '/throw');
    const deadline = Date.now() + 10_000;
    while (!f.events.some((e) => e.event?.request?.url?.endsWith('/throw')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(f.strayStdout, [], 'no human text on stdout (load errors and reload notes go to stderr)');
    for (const ev of f.events) {
      assert.equal(typeof ev.scriptName, 'string');
      assert.equal(typeof ev.outcome, 'string');
    }
    const logged = f.events.find((e) => e.event?.request?.url?.endsWith('/json-only'));
    assert.deepEqual(logged?.logs.map((l: { message: unknown[] }) => l.message), [['handling', 'GET', '/json-only', { n: 1 }]]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('flarelet dev: --format pretty and signals', () => {
  test('--format pretty prints the header line and (log) lines; SIGTERM exits 0 promptly', async (t) => {
    const port = await freePort();
    const apiPort = await freePort();
    const cli = runCli(['dev', join(cliFixtures, 'echo-path.js'), '--port', String(port), '--api-port', String(apiPort), '--format', 'pretty', '--no-watch']);
    t.after(() => cli.stop());
    await waitForHttp(port, 30_000);
    const res = await httpRequest(`http://127.0.0.1:${port}/pretty?x=1`);
    assert.equal(res.text, 'echo GET /pretty');
    await cli.waitFor('stdout', /\(log\)/, 10_000);
    const lines = cli.stdout().split('\n');
    const header = lines.find((l) => l.includes('/pretty'));
    assert.ok(header, cli.stdout());
    assert.match(header!, /^GET http:\/\/127\.0\.0\.1:\d+\/pretty\?x=1 - Ok @ \d{1,2}\/\d{1,2}\/\d{4}, \d{1,2}:\d{2}:\d{2} [AP]M$/);
    assert.ok(lines.includes("  (log) handling GET /pretty { n: 1 }"), cli.stdout());

    // an exception: "Exception Thrown" in the header, the error on stderr
    await httpRequest(`http://127.0.0.1:${port}/throw`);
    await cli.waitFor('stdout', /\/throw - Exception Thrown @ /, 10_000);
    await cli.waitFor('stderr', /Error: thrown on purpose/, 10_000);

    const started = Date.now();
    cli.child.kill('SIGTERM');
    const code = await Promise.race([cli.exited, new Promise<string>((r) => setTimeout(() => r('still running after 5 s'), 5000))]);
    assert.equal(code, 0, 'SIGTERM exits with code 0');
    assert.ok(Date.now() - started < 5000);
  });

  test('SIGINT exits 0 as well', async (t) => {
    const port = await freePort();
    const apiPort = await freePort();
    const cli = runCli(['dev', 'examples/hello-worker.js', '--port', String(port), '--api-port', String(apiPort), '--format', 'json']);
    t.after(() => cli.stop());
    await waitForHttp(port, 30_000);
    assert.equal((await httpRequest(`http://127.0.0.1:${port}/`)).status, 200);
    cli.child.kill('SIGINT');
    const code = await Promise.race([cli.exited, new Promise<string>((r) => setTimeout(() => r('still running after 5 s'), 5000))]);
    assert.equal(code, 0);
  });
});
