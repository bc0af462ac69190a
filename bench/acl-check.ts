// `node --import tsx bench/acl-check.ts`: what the ACL read check adds to a delivery. For one
// PUBLISH matching 100 subscribers, it times the router's match alone and the match plus one
// TopicAcl.mayRead per matched subscriber (each subscriber a user with 4 topic rules, and 3
// pattern rules), interleaved in the same run, and prints the medians and their ratio.
import { performance } from 'node:perf_hooks';
import { parseAclFile } from '../src/auth/acl-file.js';
import { TopicAcl } from '../src/auth/topic-acl.js';
import type { Delivery } from '../src/protocol/message.js';
import { Router } from '../src/routing/router.js';

const SUBSCRIBERS = 100;
const ROUNDS = 20_000;

const lines: string[] = ['topic read public/#'];
for (let i = 0; i < SUBSCRIBERS; i++) {
  lines.push(`user u${i}`, `topic readwrite u${i}/#`, `topic deny u${i}/secret`, 'topic read sensors/+/temp', 'topic read news/#');
}
lines.push('pattern readwrite clients/%c/#', 'pattern read inbox/%u', 'pattern deny clients/%c/locked');
const acl = new TopicAcl(parseAclFile(lines.join('\n')));
const router = new Router();
const options = { qos: 0 as const, noLocal: false, retainAsPublished: false, retainHandling: 0 as const };
for (let i = 0; i < SUBSCRIBERS; i++) router.subscribe(`c${i}`, 'sensors/+/temp', options);
const presence = { isOnline: () => true };
const usernames = Array.from({ length: SUBSCRIBERS }, (_, i) => `u${i}`);
const out: Delivery[] = [];

function run(withAcl: boolean): number {
  let allowed = 0;
  const start = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    const n = router.match('sensors/kitchen/temp', 'pub', 0, false, presence, out);
    if (withAcl) for (let i = 0; i < n; i++) if (acl.mayRead(usernames[i]!, out[i]!.clientId, 'sensors/kitchen/temp')) allowed++;
  }
  if (withAcl && allowed !== ROUNDS * SUBSCRIBERS) throw new Error(`expected every delivery allowed, got ${allowed}`);
  return ((performance.now() - start) * 1e6) / ROUNDS;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
run(false);
run(true); // warm-up
// Interleaved, medians of 9: other processes on the machine disturb single runs.
const plains: number[] = [];
const checks: number[] = [];
for (let i = 0; i < 9; i++) {
  plains.push(run(false));
  checks.push(run(true));
}
const plain = median(plains);
const checked = median(checks);
console.log(`match of 100 subscribers: ${(plain / 1000).toFixed(1)} µs; with the ACL read check: ${(checked / 1000).toFixed(1)} µs (${(checked / plain).toFixed(2)}x, ${((checked - plain) / SUBSCRIBERS).toFixed(0)} ns per delivery)`);
