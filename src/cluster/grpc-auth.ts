// Who is calling, and may it: every cluster RPC carries the caller's node name and incarnation
// in metadata, and, when a cluster secret is set, an HMAC-SHA256 of them keyed by the secret. The
// secret itself never crosses the wire and is never logged; the proof is compared in constant
// time. A proof binds the name and incarnation, so a node cannot speak for another. It can be
// replayed by someone who can read the traffic: use mTLS (--cluster-tls-*) off a trusted network.

import { createHmac, timingSafeEqual } from 'node:crypto';

export const NODE_HEADER = 'x-shoal-node';
export const INCARNATION_HEADER = 'x-shoal-incarnation';
export const AUTH_HEADER = 'x-shoal-auth';

export interface CallerIdentity {
  readonly node: string;
  readonly incarnation: number;
}

export function authProof(secret: string, node: string, incarnation: number): string {
  return createHmac('sha256', secret).update(`shoal-cluster-v1\n${node}\n${incarnation}`).digest('hex');
}

export type CallerCheck =
  | { readonly ok: true; readonly caller: CallerIdentity }
  | { readonly ok: false; readonly caller: CallerIdentity | null; readonly reason: string };

/**
 * Checks one call's metadata values (the first of each header, undefined when absent) against
 * `secret` (undefined: the cluster runs without one, allowed on loopback only).
 */
export function checkCaller(
  secret: string | undefined,
  node: string | undefined,
  incarnationText: string | undefined,
  proof: string | undefined,
): CallerCheck {
  if (node === undefined || node === '' || incarnationText === undefined) {
    return { ok: false, caller: null, reason: `no ${NODE_HEADER}/${INCARNATION_HEADER} metadata (not a Shoal node?)` };
  }
  const incarnation = Number(incarnationText);
  if (!Number.isSafeInteger(incarnation) || incarnation < 0) {
    return { ok: false, caller: null, reason: `bad ${INCARNATION_HEADER} ${JSON.stringify(incarnationText)}` };
  }
  const caller = { node, incarnation };
  if (secret === undefined) return { ok: true, caller };
  if (proof === undefined) return { ok: false, caller, reason: 'no cluster secret proof (the caller runs without --cluster-secret)' };
  const want = Buffer.from(authProof(secret, node, incarnation), 'hex');
  const got = Buffer.from(proof, 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want)) {
    return { ok: false, caller, reason: 'wrong cluster secret proof (the caller has another --cluster-secret)' };
  }
  return { ok: true, caller };
}
