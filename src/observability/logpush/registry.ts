// The list of logpush jobs, kept in `<stateDir>/logpush/jobs.json` so that jobs made through the
// API (and the spool folders of flag jobs) survive a restart. Written atomically (temporary file,
// rename); a file that cannot be read is moved aside, reported, and the list starts empty.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { StoredJob } from './jobs.ts';

export interface RegistryState {
  nextId: number;
  jobs: StoredJob[];
}

export async function loadRegistry(file: string, warn: (message: string) => void): Promise<RegistryState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') warn(`logpush: cannot read ${file} (${(error as Error).message}); starting with no saved jobs`);
    return { nextId: 1, jobs: [] };
  }
  try {
    const parsed = JSON.parse(text) as RegistryState;
    if (!Number.isSafeInteger(parsed?.nextId) || !Array.isArray(parsed.jobs)) throw new Error('not a job list');
    const jobs = parsed.jobs.filter((j) => Number.isSafeInteger(j?.id) && typeof j.destination_conf === 'string');
    const nextId = Math.max(parsed.nextId, ...jobs.map((j) => j.id + 1), 1);
    return { nextId, jobs };
  } catch (error) {
    const aside = `${file}.unreadable-${Date.now()}`;
    await rename(file, aside).catch(() => {});
    warn(`logpush: ${file} is not a valid job list (${(error as Error).message}); moved it to ${aside} and started with no saved jobs`);
    return { nextId: 1, jobs: [] };
  }
}

let saving: Promise<void> = Promise.resolve();

/** Saves the list; saves are serialised so the last one written is the latest state. */
export function saveRegistry(file: string, state: RegistryState): Promise<void> {
  const text = `${JSON.stringify(state, null, 2)}\n`;
  const run = saving.catch(() => {}).then(async () => {
    await mkdir(path.dirname(file), { recursive: true });
    const temporary = `${file}.tmp`;
    await writeFile(temporary, text);
    await rename(temporary, file);
  });
  saving = run;
  return run;
}
