#!/usr/bin/env node
// Generates the typed gRPC code for proto/cluster.proto into src/cluster/gen (`npm run proto:gen`),
// or with --check regenerates into a temporary folder and fails when it differs from the committed
// code (`npm run proto:check`, run by CI): the committed types must be what the schema says.
// Options as in ../shared/STACK.md; the runtime loader (src/cluster/grpc-proto.ts) uses the same.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const GEN = 'src/cluster/gen';
const PROTO = 'proto/cluster.proto';
const check = process.argv.includes('--check');

function generate(outDir) {
  const bin = join(ROOT, 'node_modules', '.bin', 'proto-loader-gen-types');
  const args = ['--keepCase', '--longs=String', '--enums=String', '--defaults', '--oneofs', '--includeComments',
    '--importFileExtension=.js', '--grpcLib=@grpc/grpc-js', '-O', outDir, PROTO];
  const run = spawnSync(bin, args, { cwd: ROOT, stdio: 'inherit' });
  if (run.status !== 0) {
    console.error(`proto-loader-gen-types failed (exit ${run.status}); fix ${PROTO} and run npm run proto:gen`);
    process.exit(1);
  }
}

function files(dir, base = dir, out = new Map()) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, base, out);
    else out.set(relative(base, p), readFileSync(p, 'utf8'));
  }
  return out;
}

if (!check) {
  rmSync(join(ROOT, GEN), { recursive: true, force: true });
  generate(GEN);
  console.log(`generated ${GEN} from ${PROTO}`);
  process.exit(0);
}

const tmp = mkdtempSync(join(tmpdir(), 'shoal-proto-'));
try {
  generate(tmp);
  const fresh = files(tmp);
  const committed = files(join(ROOT, GEN));
  const problems = [];
  for (const [name, text] of fresh) {
    if (!committed.has(name)) problems.push(`missing: ${GEN}/${name}`);
    else if (committed.get(name) !== text) problems.push(`differs: ${GEN}/${name}`);
  }
  for (const name of committed.keys()) if (!fresh.has(name)) problems.push(`not generated any more: ${GEN}/${name}`);
  if (problems.length > 0) {
    console.error(`${GEN} is out of date with ${PROTO}:\n  ${problems.join('\n  ')}\nrun: npm run proto:gen, and commit the result`);
    process.exit(1);
  }
  console.log(`${GEN} matches ${PROTO} (${fresh.size} files)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
