// The dashboard's static files (dashboard/ at the package root, shipped like proto/): read once
// at startup, served from memory. No build step: plain HTML, CSS and a script.
import { readFileSync } from 'node:fs';

/** URL path → file name in dashboard/. */
const FILES: ReadonlyMap<string, string> = new Map([
  ['/', 'index.html'],
  ['/index.html', 'index.html'],
  ['/dashboard.js', 'dashboard.js'],
  ['/dashboard.css', 'dashboard.css'],
]);

const TYPES: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

export type DashboardFiles = ReadonlyMap<string, { type: string; bytes: Buffer }>;

/** The dashboard file a URL path names, or null. */
export function dashboardFile(path: string): string | null {
  return FILES.get(path) ?? null;
}

/**
 * Reads the files from the first dashboard/ found above this module (src/http/ under tsx,
 * dist/src/http/ when built). A missing file is left out; the server then answers 404 naming it.
 */
export function loadDashboard(): DashboardFiles {
  const out = new Map<string, { type: string; bytes: Buffer }>();
  for (const rel of ['../../dashboard/', '../../../dashboard/']) {
    const dir = new URL(rel, import.meta.url);
    for (const name of new Set(FILES.values())) {
      try {
        out.set(name, { type: TYPES[name.slice(name.lastIndexOf('.') + 1)]!, bytes: readFileSync(new URL(name, dir)) });
      } catch {
        // not at this depth; try the next
      }
    }
    if (out.size > 0) break;
  }
  return out;
}
