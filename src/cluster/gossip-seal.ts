// The envelope of every gossip datagram. With a cluster secret the SWIM payload is encrypted and
// authenticated with AES-256-GCM, so a node without the secret can neither read membership (names,
// addresses, incarnations) nor inject or alter it: a datagram whose tag does not verify is dropped
// before swim sees it. Without a secret (allowed only when every address is loopback, see
// checkConfig) the payload travels in a plain envelope, and each side refuses the other's kind so a
// secret mismatch is reported instead of half-working.
//
// Layout: magic 'S' (1 byte) | mode (1 byte) | mode 1 only: nonce (12) | payload | tag (16).
// Known limit: no replay protection. A captured datagram can be resent by an on-path attacker; SWIM
// incarnations make an old alive/suspect record harmless, but a replayed "faulty" record can mark a
// live node down until it refutes it (one gossip round or two). Time-windowed nonces would fix it.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const MAGIC = 0x53;
const MODE_PLAIN = 0;
const MODE_AES_256_GCM = 1;
const HEADER_BYTES = 2;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Bytes the envelope adds to a SWIM datagram at most (the sealed mode). */
export const SEAL_OVERHEAD_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES;

/** Why a datagram was dropped; each maps to one log message. */
export type OpenFailure = 'not-shoal-gossip' | 'plain-but-secret-required' | 'sealed-but-no-secret' | 'authentication-failed';

export type OpenResult = { ok: true; payload: Buffer } | { ok: false; reason: OpenFailure };

export const OPEN_FAILURE_TEXT: Readonly<Record<OpenFailure, string>> = {
  'not-shoal-gossip': 'not a Shoal gossip datagram',
  'plain-but-secret-required': 'the sender has no cluster secret but this node has one',
  'sealed-but-no-secret': 'the sender uses a cluster secret but this node has none',
  'authentication-failed': 'it does not authenticate with this node\'s cluster secret',
};

/**
 * Seals and opens datagrams for one secret (or none). The AES key is derived from the secret with
 * HKDF, so the gossip key differs from anything else derived from the same secret. Nonces are
 * random: safe for about 2^32 datagrams per secret (years at the default gossip rate for dozens of
 * nodes); rotate the secret well before that.
 */
export class GossipSeal {
  private readonly key: Buffer | undefined;

  constructor(secret: string | undefined) {
    this.key =
      secret === undefined
        ? undefined
        : Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'shoal-gossip', 'cluster.v1 gossip aes-256-gcm', 32));
  }

  get authenticated(): boolean {
    return this.key !== undefined;
  }

  seal(payload: Buffer): Buffer {
    if (this.key === undefined) return Buffer.concat([Buffer.from([MAGIC, MODE_PLAIN]), payload]);
    const header = Buffer.from([MAGIC, MODE_AES_256_GCM]);
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(header);
    const body = Buffer.concat([cipher.update(payload), cipher.final()]);
    return Buffer.concat([header, nonce, body, cipher.getAuthTag()]);
  }

  open(datagram: Buffer): OpenResult {
    if (datagram.length < HEADER_BYTES || datagram[0] !== MAGIC) return { ok: false, reason: 'not-shoal-gossip' };
    const mode = datagram[1];
    if (mode === MODE_PLAIN) {
      return this.key === undefined ? { ok: true, payload: datagram.subarray(HEADER_BYTES) } : { ok: false, reason: 'plain-but-secret-required' };
    }
    if (mode !== MODE_AES_256_GCM) return { ok: false, reason: 'not-shoal-gossip' };
    if (this.key === undefined) return { ok: false, reason: 'sealed-but-no-secret' };
    if (datagram.length < SEAL_OVERHEAD_BYTES) return { ok: false, reason: 'authentication-failed' };
    const nonce = datagram.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
    const tag = datagram.subarray(datagram.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, nonce);
    decipher.setAAD(datagram.subarray(0, HEADER_BYTES));
    decipher.setAuthTag(tag);
    try {
      const payload = Buffer.concat([decipher.update(datagram.subarray(HEADER_BYTES + NONCE_BYTES, datagram.length - TAG_BYTES)), decipher.final()]);
      return { ok: true, payload };
    } catch {
      return { ok: false, reason: 'authentication-failed' };
    }
  }
}
