// The client side of SCRAM-SHA-256 (RFC 5802), for tests: builds client-first and client-final
// from a password and checks the server's signature in server-final.
import { randomBytes } from 'node:crypto';
import { encodeSaslName, hmacSha256, saltedPassword, sha256, xorBuffers } from '../../src/auth/scram.js';

export class ScramClient {
  private bare = '';
  private expectedServerFinal = '';

  constructor(
    private readonly user: string,
    private readonly password: string,
    private readonly nonce: string = randomBytes(18).toString('base64'),
  ) {}

  /** client-first-message, no channel binding. */
  first(): string {
    this.bare = `n=${encodeSaslName(this.user)},r=${this.nonce}`;
    return `n,,${this.bare}`;
  }

  /** client-final-message for the server-first-message. Throws if the server's nonce is not ours extended. */
  final(serverFirst: string): string {
    const attrs = new Map(serverFirst.split(',').map((a) => [a.slice(0, 1), a.slice(2)] as [string, string]));
    const nonce = attrs.get('r') ?? '';
    if (!nonce.startsWith(this.nonce) || nonce === this.nonce) throw new Error(`server nonce ${nonce} does not extend ${this.nonce}`);
    const salted = saltedPassword(this.password, Buffer.from(attrs.get('s') ?? '', 'base64'), Number(attrs.get('i')));
    const clientKey = hmacSha256(salted, 'Client Key');
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonce}`;
    const authMessage = `${this.bare},${serverFirst},${withoutProof}`;
    const proof = xorBuffers(clientKey, hmacSha256(sha256(clientKey), authMessage));
    this.expectedServerFinal = `v=${hmacSha256(hmacSha256(salted, 'Server Key'), authMessage).toString('base64')}`;
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** server-final-message proves the server knows the user's ServerKey. */
  verify(serverFinal: string): boolean {
    return this.expectedServerFinal !== '' && serverFinal === this.expectedServerFinal;
  }
}
