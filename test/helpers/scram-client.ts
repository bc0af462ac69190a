// The client side of SCRAM-SHA-256 (RFC 5802), for tests: builds client-first and client-final
// from a password and checks the server's signature in server-final; and an MQTT.js client using it.
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { SCRAM_SHA_256, encodeSaslName, hmacSha256, saltedPassword, sha256, xorBuffers } from '../../src/auth/scram.js';
import { ReasonCode } from '../../src/protocol/reason-codes.js';

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

/**
 * Connects an MQTT.js 5 client with SCRAM-SHA-256 (CONNECT carries client-first, handleAuth
 * answers server-first) and closes it again: the CONNACK's reason code (MQTT.js reports a refusal
 * as an error with that code), and whether the CONNACK's server-final verified.
 */
export async function mqttJsScramConnect(url: string, clientId: string, user: string, password: string): Promise<{ reasonCode: number; verified: boolean }> {
  const scram = new ScramClient(user, password);
  const client = mqtt.connect(url, {
    protocolVersion: 5,
    clientId,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    properties: { authenticationMethod: SCRAM_SHA_256, authenticationData: Buffer.from(scram.first()) },
  });
  client.handleAuth = (packet, callback) => {
    const serverFirst = packet.properties?.authenticationData?.toString() ?? '';
    const data = Buffer.from(scram.final(serverFirst));
    callback(undefined, { cmd: 'auth', reasonCode: ReasonCode.ContinueAuthentication, properties: { authenticationMethod: SCRAM_SHA_256, authenticationData: data } });
  };
  try {
    return await new Promise((resolve, reject) => {
      client.once('connect', (connack) => {
        resolve({ reasonCode: connack.reasonCode ?? 0, verified: scram.verify(connack.properties?.authenticationData?.toString() ?? '') });
      });
      client.once('error', (err) => {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'number') resolve({ reasonCode: code, verified: false });
        else reject(err);
      });
    });
  } finally {
    client.end(true);
  }
}
