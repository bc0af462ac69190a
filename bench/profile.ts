// Summarises V8 .cpuprofile files (written by `node --cpu-prof`, one per thread): where the
// self time goes, by function and by source file, so hot paths can be read off the report.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface HotSpot {
  name: string;
  where: string;
  selfMs: number;
  /** Share of this thread's non-idle samples, %. */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  /** Non-idle sampled time, ms. */
  busyMs: number;
  wallMs: number;
  functions: HotSpot[];
  files: HotSpot[];
}

function shortUrl(url: string, root: string): string {
  if (url === '') return '(native)';
  let u = url.replace(/^file:\/\//, '');
  if (u.startsWith(root)) u = u.slice(root.length + 1);
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) u = u.slice(nm + 'node_modules/'.length);
  return u;
}

export function summariseProfile(file: string, root: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const total = p.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0) || 1;
  const wallMs = (p.endTime - p.startTime) / 1000;
  const msPerHit = wallMs / total;
  const byFn = new Map<string, HotSpot>();
  const byFile = new Map<string, HotSpot>();
  let idle = 0;
  for (const n of p.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') {
      idle += hits;
      continue;
    }
    const where = shortUrl(n.callFrame.url, root);
    const fnKey = `${name}@${where}:${n.callFrame.lineNumber + 1}`;
    const f = byFn.get(fnKey) ?? { name, where: `${where}:${n.callFrame.lineNumber + 1}`, selfMs: 0, pct: 0 };
    f.selfMs += hits * msPerHit;
    byFn.set(fnKey, f);
    const fileKey = where.startsWith('node:') ? where : where;
    const g = byFile.get(fileKey) ?? { name: fileKey, where: fileKey, selfMs: 0, pct: 0 };
    g.selfMs += hits * msPerHit;
    byFile.set(fileKey, g);
  }
  const busyMs = (total - idle) * msPerHit;
  const finish = (m: Map<string, HotSpot>): HotSpot[] =>
    [...m.values()]
      .map((h) => ({ ...h, selfMs: Math.round(h.selfMs * 10) / 10, pct: busyMs > 0 ? Math.round((h.selfMs / busyMs) * 1000) / 10 : 0 }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top);
  return { file: basename(file), busyMs: Math.round(busyMs), wallMs: Math.round(wallMs), functions: finish(byFn), files: finish(byFile) };
}

export function formatProfile(s: ProfileSummary, rows = 20): string {
  const lines = [`${s.file}: busy ${s.busyMs} ms of ${s.wallMs} ms`, '  self ms    %  function (file:line)'];
  for (const f of s.functions.slice(0, rows)) lines.push(`  ${f.selfMs.toFixed(0).padStart(7)} ${f.pct.toFixed(1).padStart(5)}  ${f.name} (${f.where})`);
  lines.push('  by file:');
  for (const f of s.files.slice(0, 12)) lines.push(`  ${f.selfMs.toFixed(0).padStart(7)} ${f.pct.toFixed(1).padStart(5)}  ${f.name}`);
  return lines.join('\n');
}
