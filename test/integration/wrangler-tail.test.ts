// The real `wrangler tail` (the npm package, run with Node 24) against `flarelet dev`, pointed at its
// API port with CLOUDFLARE_API_BASE_URL: it sees the events in --format json (the same text as
// Cloudflare's: JSON.stringify(event, null, 4)) and --format pretty, only the failures with
// --status error, and prints the sampling notices; Ctrl-C deletes its tail.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, eventually, jsonBlocks, OutputWatcher, OVERLOAD, OVERLOAD_STOP, requestFrom, tailsUrl } from '../fixtures/tail/tail-client.ts';
import { projectRoot, startFlarelet } from '../support/flarelet.ts';
import type { FlareletHandle } from '../support/flarelet.ts';

const WORKER = 'tail-probe';
const NODE24 = join(projectRoot, 'bin', 'node24');
const WRANGLER = join(projectRoot, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

describe('wrangler tail against flarelet dev', () => {
  let f: FlareletHandle;
  const home = mkdtempSync(join(tmpdir(), 'flarelet-wrangler-'));
  before(async () => {
    // 20 events/s per tail: the tests below stay under it, except the one about sampling mode.
    f = await startFlarelet({ entries: ['test/fixtures/tail/tail-probe.js'], args: ['--tail-rate', '20'] });
  });
  after(async () => {
    await f?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  let nextId = 1;
  async function send(path: string): Promise<string> {
    const id = `w${nextId++}`;
    await requestFrom(`${f.url}${path}`, { headers: { 'x-test-id': id } });
    return id;
  }
  const devEvent = (id: string) => f.events.find((e) => e.event?.request?.headers?.['x-test-id'] === id);

  function wrangler(args: string[]): OutputWatcher {
    return new OutputWatcher(spawn(NODE24, [WRANGLER, 'tail', WORKER, ...args], {
      cwd: home, // no wrangler.toml there: the worker is named on the command line
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        CLOUDFLARE_API_BASE_URL: `http://127.0.0.1:${f.apiPort}/client/v4`,
        CLOUDFLARE_API_TOKEN: 'local-token',
        CLOUDFLARE_ACCOUNT_ID: 'local-account',
        // Nothing leaves this machine: no telemetry, no banner (whose update check asks the npm registry).
        WRANGLER_SEND_METRICS: 'false',
        WRANGLER_HIDE_BANNER: 'true',
        XDG_CONFIG_HOME: home,
        NO_COLOR: '1',
        FORCE_COLOR: '0',
      },
    }));
  }

  /** wrangler prints nothing in json mode before events: wait until its tail is connected. */
  async function connected(): Promise<string> {
    return eventually(async () => {
      const tails = (await api('GET', tailsUrl(f.apiPort, WORKER))).result;
      assert.ok(tails.length <= 1, `one tail at a time: ${JSON.stringify(tails)}`);
      return tails[0]?.connected && tails[0].id;
    }, 20_000, 'wrangler to connect');
  }

  /** Each test starts with no tail (a previous test's wrangler has deleted its own). */
  async function noTails(): Promise<void> {
    await eventually(async () => (await api('GET', tailsUrl(f.apiPort, WORKER))).result.length === 0, 10_000, 'no tail left over');
  }

  async function stop(cli: OutputWatcher): Promise<void> {
    assert.equal(await cli.stop('SIGINT'), 0, `wrangler exits 0 on Ctrl-C\nstderr:\n${cli.stderr}`);
    await eventually(async () => (await api('GET', tailsUrl(f.apiPort, WORKER))).result.length === 0, 5000, 'wrangler to delete its tail');
  }

  test('--format json: every event, byte for byte what Cloudflare\'s tail would print', async () => {
    await noTails();
    const cli = wrangler(['--format', 'json']);
    try {
      await connected();
      const ids = [await send('/log/from%20wrangler'), await send('/throw/wrangler-json'), await send('/')];
      await eventually(() => jsonBlocks(cli.stdout).length >= 3, 10_000, `3 events on wrangler's stdout:\n${cli.stdout}\n${cli.stderr}`);
      const blocks = jsonBlocks(cli.stdout);
      assert.equal(blocks.length, 3);
      ids.forEach((id, i) => {
        const expected = devEvent(id);
        assert.ok(expected, `the dev event of ${id}`);
        assert.equal(blocks[i].text, JSON.stringify(expected, null, 4));
      });
      assert.equal(blocks[1].value.outcome, 'exception');
      assert.equal(blocks[1].value.exceptions[0].message, 'wrangler-json');
      await stop(cli);
    } finally {
      await cli.stop('SIGKILL');
    }
  });

  test('--format pretty: wrangler\'s own layout', async () => {
    await noTails();
    const cli = wrangler(['--format', 'pretty']);
    try {
      await cli.waitFor('stdout', /Connected to tail-probe, waiting for logs\.\.\./, 20_000);
      const listed = (await api('GET', tailsUrl(f.apiPort, WORKER))).result[0];
      assert.match(cli.stdout, new RegExp(`Successfully created tail, expires at ${listed.expires_at.replace(/\./g, '\\.')}`));
      await send('/log/pretty%20hello');
      await send('/throw/wrangler-pretty');
      await cli.waitFor('stdout', /GET http:\/\/127\.0\.0\.1:\d+\/log\/pretty%20hello - Ok @ .+\n {2}\(log\) pretty hello\n/);
      await cli.waitFor('stdout', /GET http:\/\/127\.0\.0\.1:\d+\/throw\/wrangler-pretty - Exception Thrown @ .+\n {2}\(log\) about to throw wrangler-pretty\n/);
      await cli.waitFor('stderr', /✘ \[ERROR\] Error: wrangler-pretty\n\n\s+at Object\.fetch \(tail-probe\.js:\d+:\d+\)/);
      await stop(cli);
      assert.match(cli.stdout, /Stopping tail\.\.\./);
    } finally {
      await cli.stop('SIGKILL');
    }
  });

  test('--status error: only the failures', async () => {
    await noTails();
    const cli = wrangler(['--format', 'json', '--status', 'error']);
    try {
      const tailId = await connected();
      const filters = (await api('GET', `${tailsUrl(f.apiPort, WORKER)}/${tailId}`)).result.filters;
      assert.deepEqual(filters, [{ outcome: ['exception', 'exceededCpu', 'exceededMemory', 'unknown'] }], 'wrangler\'s translation of --status error');
      await send('/log/fine-1');
      const failed1 = await send('/throw/first-failure');
      await send('/log/fine-2');
      const failed2 = await send('/throw/second-failure');
      await eventually(() => jsonBlocks(cli.stdout).length >= 2, 10_000, `2 failures on stdout:\n${cli.stdout}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const blocks = jsonBlocks(cli.stdout);
      assert.deepEqual(blocks.map((b) => b.value.event.request.headers['x-test-id']), [failed1, failed2]);
      assert.ok(blocks.every((b) => b.value.outcome === 'exception'));
      await stop(cli);
    } finally {
      await cli.stop('SIGKILL');
    }
  });

  test('sampling mode: wrangler prints both notices and keeps running', async () => {
    await noTails();
    const cli = wrangler(['--format', 'pretty']);
    try {
      await cli.waitFor('stdout', /Connected to tail-probe, waiting for logs\.\.\./, 20_000);
      let next = 0;
      const worker = async () => { while (next < 100) { next++; await requestFrom(`${f.url}/`); } };
      await Promise.all(Array.from({ length: 10 }, worker));
      await cli.waitFor('stdout', new RegExp(`${OVERLOAD.replace(/\./g, '\\.')}\n`));
      await cli.waitFor('stdout', new RegExp(`${OVERLOAD_STOP.replace(/\./g, '\\.')}\n`), 10_000);
      await send('/log/still-here');
      await cli.waitFor('stdout', /\(log\) still-here\n/);
      await stop(cli);
    } finally {
      await cli.stop('SIGKILL');
    }
  });
});
