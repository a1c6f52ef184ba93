// Reads a V8 .cpuprofile (node --cpu-prof) and sums it up: self and total (inclusive) time per
// function, and self time per source file, as shares of the busy (non-idle) samples.
import { readFileSync } from 'node:fs';
import { ROOT } from './lib.ts';

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface ProfileEntry { name: string; ms: number; share: number }
export interface ProfileSummary {
  file: string;
  /** wall-clock span of the profile */
  spanMs: number;
  /** sampled time that was not idle */
  busyMs: number;
  idleMs: number;
  topSelf: ProfileEntry[];
  topTotal: ProfileEntry[];
  byFile: ProfileEntry[];
}

function shortUrl(url: string): string {
  if (!url) return '';
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(ROOT + '/')) u = u.slice(ROOT.length + 1);
  u = u.replace(/^.*\/node_modules\//, 'node_modules/');
  return u;
}

function frameName(cf: CallFrame): string {
  const fn = cf.functionName || '(anonymous)';
  const url = shortUrl(cf.url);
  return url ? `${fn} ${url}:${cf.lineNumber + 1}` : fn;
}

export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  // Time of sample i: the delta up to the next sample (the last one gets the mean).
  const n = profile.samples.length;
  const span = (profile.endTime - profile.startTime) / 1000;
  const mean = n ? span / n : 0;
  const sampleMs = (i: number) => (i + 1 < n ? profile.timeDeltas[i + 1] / 1000 : mean);

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const perFile = new Map<string, number>();
  let idle = 0;
  let busy = 0;
  for (let i = 0; i < n; i++) {
    const ms = Math.max(0, sampleMs(i));
    const leaf = byId.get(profile.samples[i]);
    if (!leaf) continue;
    if (leaf.callFrame.functionName === '(idle)') { idle += ms; continue; }
    busy += ms;
    const leafName = frameName(leaf.callFrame);
    self.set(leafName, (self.get(leafName) ?? 0) + ms);
    const fileKey = shortUrl(leaf.callFrame.url) || leaf.callFrame.functionName || '(native)';
    perFile.set(fileKey, (perFile.get(fileKey) ?? 0) + ms);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id)!;
      if (node.callFrame.functionName === '(root)') break;
      const name = frameName(node.callFrame);
      if (seen.has(name)) continue;
      seen.add(name);
      total.set(name, (total.get(name) ?? 0) + ms);
    }
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, share: busy ? ms / busy : 0 }));
  return { file, spanMs: span, busyMs: busy, idleMs: idle, topSelf: rank(self), topTotal: rank(total), byFile: rank(perFile) };
}

export function formatProfile(summary: ProfileSummary, title = 'CPU profile'): string {
  const pct = (e: ProfileEntry) => `${(e.share * 100).toFixed(1).padStart(5)}%  ${e.name}`;
  return [
    `${title}: ${summary.file}`,
    `  busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms of ${summary.spanMs.toFixed(0)} ms (shares below are of busy time)`,
    '  self time by function:',
    ...summary.topSelf.map((e) => `    ${pct(e)}`),
    '  self time by file:',
    ...summary.byFile.map((e) => `    ${pct(e)}`),
    '  total (inclusive) time by function:',
    ...summary.topTotal.map((e) => `    ${pct(e)}`),
  ].join('\n');
}
