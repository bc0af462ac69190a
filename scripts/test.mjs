#!/usr/bin/env node
// Runs node's test runner over the .test.ts files below the given folders (default: test/).
// Node 20 does not expand globs itself, so the file list is built here.
// Extra arguments after `--` are passed to property tests through SHOAL_PROPERTY_ARGS
// (e.g. `npm run test:property -- --runs 5000`).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

const argv = process.argv.slice(2);
const roots = [];
const passthrough = [];
/** `--exclude <regex>`: leave out the files whose path matches (npm test's second pass). */
let exclude = null;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--runs') { process.env.SHOAL_RUNS = argv[++i]; continue; }
  if (a.startsWith('--runs=')) { process.env.SHOAL_RUNS = a.slice(7); continue; }
  if (a === '--seed') { process.env.SHOAL_SEED = argv[++i]; continue; }
  if (a === '--exclude') { exclude = new RegExp(argv[++i]); continue; }
  if (a.startsWith('--')) { passthrough.push(a); continue; }
  roots.push(a);
}
if (roots.length === 0) roots.push('test');

function walk(dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const files = roots.flatMap((r) => (statSync(r).isDirectory() ? walk(r, []) : [r])).filter((f) => exclude === null || !exclude.test(f));
if (files.length === 0) {
  console.error(`no *.test.ts files under ${roots.join(', ')}`);
  process.exit(1);
}
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...passthrough, ...files],
  { stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
