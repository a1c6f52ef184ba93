// Runs a worker script on Cloudflare's real runtime (workerd) so tests can compare Flarelet with it.
// The socket listens on 127.0.0.1 port 0; workerd reports the port it bound on a control pipe.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';

export interface WorkerdOptions {
  script: string;
  format: 'module' | 'service-worker';
  vars?: Record<string, string>;
  compatibilityDate?: string;
  compatibilityFlags?: string[];
  /** how long to wait for workerd to listen (default 20 s) */
  startTimeoutMs?: number;
}

export interface WorkerdHandle {
  url: string;
  port: number;
  stderr(): string;
  stop(): Promise<void>;
}

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
// The `workerd` npm package exports the path of the native binary. node_modules/.bin/workerd is a
// Node wrapper that neither passes extra descriptors on nor forwards signals, so run the binary.
const workerdBin: string = (createRequire(join(root, 'package.json'))('workerd') as { default: string }).default;

/** Cap'n Proto text literal: printable ASCII as is, everything else as \xNN bytes of UTF-8. */
export function capnpString(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, 'utf8')) {
    if (byte === 0x22) out += '\\"';
    else if (byte === 0x5c) out += '\\\\';
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += '\\x' + byte.toString(16).padStart(2, '0');
  }
  return out + '"';
}

export function workerdConfig(options: WorkerdOptions, scriptFile: string): string {
  const bindings = Object.entries(options.vars ?? {})
    .map(([name, text]) => `(name = ${capnpString(name)}, text = ${capnpString(text)})`)
    .join(', ');
  const flags = (options.compatibilityFlags ?? []).map(capnpString).join(', ');
  const code =
    options.format === 'module'
      ? `modules = [ (name = ${capnpString(scriptFile)}, esModule = embed ${capnpString(scriptFile)}) ]`
      : `serviceWorkerScript = embed ${capnpString(scriptFile)}`;
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .mainWorker),
    (name = "net", network = (allow = ["public", "private", "local"], deny = [])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);

const mainWorker :Workerd.Worker = (
  ${code},
  compatibilityDate = ${capnpString(options.compatibilityDate ?? '2024-09-23')},
  compatibilityFlags = [ ${flags} ],
  bindings = [ ${bindings} ],
  globalOutbound = "net",
);
`;
}

export async function startWorkerd(options: WorkerdOptions): Promise<WorkerdHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'flarelet-workerd-'));
  const scriptFile = options.format === 'module' ? 'worker.mjs' : 'worker.js';
  await writeFile(join(dir, scriptFile), options.script);
  await writeFile(join(dir, 'config.capnp'), workerdConfig(options, scriptFile));

  // fd 3 is the control pipe: workerd writes {"event":"listen","socket":"http","port":N} there.
  const child = spawn(workerdBin, ['serve', 'config.capnp', '--control-fd', '3'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  let alive = true;
  child.once('exit', () => (alive = false));

  const stop = async () => {
    if (alive) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => alive && child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const port = await new Promise<number>((done, fail) => {
      const control = child.stdio[3] as Readable;
      let buffered = '';
      const timer = setTimeout(
        () => fail(new Error(`workerd did not listen within ${options.startTimeoutMs ?? 20000} ms\n${stderr}`)),
        options.startTimeoutMs ?? 20000,
      );
      control.setEncoding('utf8').on('data', (chunk: string) => {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          try {
            const msg = JSON.parse(line) as { event?: string; socket?: string; port?: number };
            if (msg.event === 'listen' && msg.socket === 'http' && typeof msg.port === 'number') {
              clearTimeout(timer);
              done(msg.port);
            }
          } catch {
            // not a control message we know
          }
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`workerd exited early (code ${code}, signal ${signal})\n${stderr}`));
      });
    });
    const url = `http://127.0.0.1:${port}`;
    return { url, port, stderr: () => stderr, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
