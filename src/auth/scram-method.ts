// SCRAM-SHA-256 as an MQTT 5 enhanced authentication method, over the users of a `--scram-users`
// file: the SCRAM state machine (scram.ts) with this process's randomness.

import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { AuthExchange, AuthMethod, AuthStep } from './enhanced-auth.js';
import { SCRAM_SHA_256, ScramServer } from './scram.js';
import type { ScramUsers } from './scram-users.js';

/** Bytes of randomness in a server nonce: 144 bits, base64 without padding in 24 characters. */
const SERVER_NONCE_BYTES = 18;

export class ScramSha256Method implements AuthMethod {
  readonly name = SCRAM_SHA_256;
  /** Per process: unknown users get the same fake salt on every try while the node runs. */
  private readonly fakeSaltKey = randomBytes(32);

  constructor(private readonly users: ScramUsers) {}

  begin(): AuthExchange {
    const server = new ScramServer({
      lookup: (username) => this.users.get(username),
      serverNonce: randomBytes(SERVER_NONCE_BYTES).toString('base64'),
      fakeSaltKey: this.fakeSaltKey,
    });
    return {
      step(data: Buffer | undefined): AuthStep {
        if (data === undefined || !isUtf8(data)) {
          return { kind: 'failure', why: 'refused', detail: 'SCRAM needs its message, in UTF-8, as Authentication Data' };
        }
        const r = server.step(data.toString('utf8'));
        switch (r.kind) {
          case 'continue':
            return { kind: 'continue', data: Buffer.from(r.message, 'utf8') };
          case 'success':
            return { kind: 'success', identity: r.username, data: Buffer.from(r.message, 'utf8') };
          default:
            return { kind: 'failure', why: r.failure === 'credentials' ? 'credentials' : 'refused', detail: `SCRAM-SHA-256: ${r.detail}` };
        }
      },
    };
  }
}
