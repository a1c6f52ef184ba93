// Turns a worker's entry file into code an isolate can load, as wrangler does: esbuild bundles
// imports (relative files and npm packages, .js/.mjs/.ts), and the format is detected from the
// entry's exports — none means a service worker (a classic script), any means a module worker.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as esbuild from 'esbuild';

export type WorkerFormat = 'service-worker' | 'module';

export interface WorkerSource {
  format: WorkerFormat;
  code: string;
  /** Name shown in stack traces. */
  filename: string;
  /** Files the bundle was built from (to watch for changes). */
  inputs: string[];
}

/** A script that cannot be loaded; `message` names file, line and column when known. */
export class WorkerSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerSourceError';
  }
}

const buildOptions: esbuild.BuildOptions = {
  bundle: true,
  write: false,
  platform: 'neutral',
  target: 'es2022',
  conditions: ['workerd', 'worker', 'browser'],
  mainFields: ['browser', 'module', 'main'],
  metafile: true,
  logLevel: 'silent',
  legalComments: 'none',
  loader: { '.js': 'jsx', '.mjs': 'jsx' },
};

function describeBuildFailure(error: unknown): WorkerSourceError {
  const failure = error as { errors?: esbuild.Message[] };
  if (failure.errors?.length) {
    const lines = failure.errors.map((m) => {
      const where = m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : '';
      const excerpt = m.location?.lineText ? `\n    ${m.location.lineText}` : '';
      return `${where}ERROR: ${m.text}${excerpt}`;
    });
    return new WorkerSourceError(lines.join('\n'));
  }
  return new WorkerSourceError(error instanceof Error ? error.message : String(error));
}

export async function loadWorkerSource(entry: string): Promise<WorkerSource> {
  const absolute = path.resolve(entry);
  const filename = path.basename(absolute);
  let result: esbuild.BuildResult & { metafile: esbuild.Metafile; outputFiles: esbuild.OutputFile[] };
  try {
    result = await esbuild.build({ ...buildOptions, entryPoints: [absolute], format: 'esm', outfile: 'worker.js' }) as typeof result;
  } catch (error) {
    throw describeBuildFailure(error);
  }
  const inputs = Object.keys(result.metafile.inputs).map((p) => path.resolve(p));
  const output = Object.values(result.metafile.outputs)[0];
  const singlePlainFile = inputs.length === 1 && /\.(m?js|cjs)$/.test(absolute);
  if (output.exports.length > 0) {
    // A module without imports runs as written, so that error lines are the user's own.
    const code = singlePlainFile ? await readFile(absolute, 'utf8') : result.outputFiles[0].text;
    return { format: 'module', code, filename, inputs };
  }
  // Service worker. A single plain-JavaScript file runs exactly as written (its top-level
  // declarations are globals and its line numbers are the user's); anything else is bundled
  // into one classic script.
  if (singlePlainFile) {
    return { format: 'service-worker', code: await readFile(absolute, 'utf8'), filename, inputs };
  }
  try {
    const iife = await esbuild.build({ ...buildOptions, entryPoints: [absolute], format: 'iife', outfile: 'worker.js' });
    return { format: 'service-worker', code: iife.outputFiles![0].text, filename, inputs };
  } catch (error) {
    throw describeBuildFailure(error);
  }
}
