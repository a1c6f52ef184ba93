// Differential tests: every script in corpus/ runs on workerd (Cloudflare's runtime, the reference)
// and on `flarelet dev`; the same requests must get the same status, body and meaningful headers.
//
// Each corpus file starts with a block comment `/* differential {json} */`:
//   { "vars"?: {NAME: value}, "requests": [ { "method"?, "path", "headers"?, "body"?,
//     "compare"?: "full" | "status", "compareStatusText"?: bool,
//     "expect"?: { "status"?, "body"?, "headers"? } } ] }
// `expect` is checked against workerd (so a broken corpus script shows up at once); without an
// expected status, workerd must answer below 500. The format is `module` when the script has
// `export default`, else `service-worker`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { httpRequest, projectRoot, startFlarelet } from '../support/flarelet.ts';
import type { HttpResult } from '../support/flarelet.ts';
import { startWorkerd } from '../support/workerd.ts';
import type { WorkerdHandle } from '../support/workerd.ts';

const COMPATIBILITY_DATE = '2024-09-23';
const corpusDir = join(projectRoot, 'test', 'differential', 'corpus');

interface CorpusRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  compare?: 'full' | 'status';
  compareStatusText?: boolean;
  expect?: { status?: number; body?: string; headers?: Record<string, string> };
}

interface CorpusEntry {
  file: string;
  path: string;
  script: string;
  format: 'module' | 'service-worker';
  vars: Record<string, string>;
  requests: CorpusRequest[];
}

function loadCorpus(): CorpusEntry[] {
  return readdirSync(corpusDir)
    .filter((f) => f.endsWith('.js'))
    .sort()
    .map((file) => {
      const path = join(corpusDir, file);
      const script = readFileSync(path, 'utf8');
      const header = /^\/\* differential\s*\n([\s\S]*?)\*\//.exec(script);
      if (!header) throw new Error(`${file}: missing the /* differential {...} */ header`);
      const spec = JSON.parse(header[1]!) as { vars?: Record<string, string>; requests: CorpusRequest[] };
      if (!Array.isArray(spec.requests) || spec.requests.length === 0) throw new Error(`${file}: no requests`);
      return {
        file,
        path,
        script,
        format: /^\s*export\s+default\b/m.test(script) ? 'module' : 'service-worker',
        vars: spec.vars ?? {},
        requests: spec.requests,
      };
    });
}

const label = (r: CorpusRequest) => `${r.method ?? 'GET'} ${r.path}`;

function send(base: string, r: CorpusRequest): Promise<HttpResult> {
  return httpRequest(base + r.path, { method: r.method ?? 'GET', headers: r.headers ?? {}, body: r.body });
}

/** The parts of a response that must agree: status, body, and the headers that matter. */
function comparable(res: HttpResult, r: CorpusRequest): Record<string, unknown> {
  if (r.compare === 'status') return { status: res.status };
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (name === 'content-type' || name === 'location' || name === 'content-disposition' || name === 'set-cookie' || name.startsWith('x-')) {
      headers[name] = value;
    }
  }
  return {
    status: res.status,
    ...(r.compareStatusText ? { statusText: res.statusText } : {}),
    headers: Object.fromEntries(Object.entries(headers).sort(([a], [b]) => a.localeCompare(b))),
    body: res.text,
  };
}

const corpus = loadCorpus();

test('the corpus is large enough', () => {
  assert.ok(corpus.length >= 15, `${corpus.length} corpus scripts`);
  assert.ok(corpus.some((c) => c.format === 'service-worker') && corpus.some((c) => c.format === 'module'));
});

for (const entry of corpus) {
  describe(entry.file, () => {
    let workerd: WorkerdHandle | undefined;
    const reference: (HttpResult | undefined)[] = [];

    before(async () => {
      workerd = await startWorkerd({ script: entry.script, format: entry.format, vars: entry.vars, compatibilityDate: COMPATIBILITY_DATE });
    });
    after(async () => {
      await workerd?.stop();
    });

    test('workerd (reference) answers as the corpus expects', async () => {
      assert.ok(workerd, 'workerd started');
      for (const [i, r] of entry.requests.entries()) {
        const res = await send(workerd.url, r);
        reference[i] = res;
        const want = r.expect ?? {};
        if (want.status !== undefined) assert.equal(res.status, want.status, `${label(r)}: status (body: ${res.text})`);
        else assert.ok(res.status < 500, `${label(r)}: status ${res.status} (body: ${res.text})`);
        if (want.body !== undefined) assert.equal(res.text, want.body, `${label(r)}: body`);
        for (const [name, value] of Object.entries(want.headers ?? {})) {
          assert.equal(res.headers[name], value, `${label(r)}: header ${name}`);
        }
      }
    });

    test('flarelet answers like workerd', async (t) => {
      const args = ['--compatibility-date', COMPATIBILITY_DATE];
      for (const [name, value] of Object.entries(entry.vars)) args.push('--var', `${name}=${value}`);
      const flarelet = await startFlarelet({ entries: [relative(projectRoot, entry.path)], args });
      t.after(() => flarelet.stop());
      const mismatches: string[] = [];
      for (const [i, r] of entry.requests.entries()) {
        const ref = reference[i];
        assert.ok(ref, `no workerd reference for ${label(r)} (see the workerd test)`);
        const res = await send(flarelet.url, r);
        try {
          assert.deepEqual(comparable(res, r), comparable(ref, r));
        } catch (err) {
          mismatches.push(`${label(r)}:\n${(err as Error).message}`);
        }
      }
      assert.deepEqual(mismatches, [], `flarelet differs from workerd:\n${mismatches.join('\n\n')}\nflarelet stderr:\n${flarelet.stderr()}`);
    });
  });
}
