// The MQTT side of enhanced authentication (§4.12), for one connection: which AUTH packets a
// client may send when, what goes back, and which reason code ends a failed exchange. The method
// itself (SCRAM, ...) only turns Authentication Data into the next step (src/auth/). No I/O: the
// Connection sends what the outcomes say.
//
// Policy where the spec leaves a choice:
// - A CONNECT that names a method is authenticated by that method alone; its Password is not
//   looked at. If it carries a User Name, that must be the user the method authenticated, else
//   CONNACK 0x86, so that a client id cannot log in as one user and present itself as another.
// - A re-authentication must authenticate the same user as the connection's first one; another
//   user, a wrong proof, or data the method refuses all end the connection with DISCONNECT 0x87
//   (Not authorized): 0x86 and 0x8C are not DISCONNECT reason codes (§3.14.2.1) [MQTT-4.12.1-2].
// - AUTH 0x19 while a re-authentication is still running is a protocol error.

import type { IAuthPacket, IConnectPacket } from 'mqtt-packet';
import type { AuthExchange, AuthMethod, AuthMethods } from '../auth/enhanced-auth.js';
import { ReasonCode, reasonName } from '../protocol/reason-codes.js';
import { ProtocolViolation } from './errors.js';

export type AuthOutcome =
  /** Send this AUTH 0x18 and wait for the client's next AUTH. */
  | { kind: 'challenge'; packet: IAuthPacket }
  /** The CONNECT is authenticated: hand it to the node; its CONNACK carries method and data. */
  | { kind: 'connected'; connect: IConnectPacket; method: string; data: Buffer | undefined; identity: string }
  /** Re-authentication succeeded: send this AUTH 0x00. */
  | { kind: 'reauthenticated'; packet: IAuthPacket }
  /** Failed: before CONNACK a CONNACK with this code and a close, after it a DISCONNECT. */
  | { kind: 'refused'; reasonCode: number; detail: string };

export class AuthFlow {
  /** The CONNECT, until its exchange succeeds and it goes on to the node. */
  private pendingConnect: IConnectPacket | null;
  /** The exchange in progress, if any (null between re-authentications). */
  private exchange: AuthExchange | null;
  /** Who the connection authenticated as. */
  private identity: string | null = null;

  private constructor(
    private readonly method: AuthMethod,
    connect: IConnectPacket,
  ) {
    this.pendingConnect = connect;
    this.exchange = method.begin();
  }

  /**
   * For a v5 CONNECT whose Authentication Method is `name`: the flow and its first outcome, or
   * only a refusal (CONNACK 0x8C) when the node does not offer that method [MQTT-4.12.0-1].
   */
  static begin(methods: AuthMethods | undefined, name: string, connect: IConnectPacket): { flow: AuthFlow | null; outcome: AuthOutcome } {
    const method = methods?.get(name);
    if (method === undefined) {
      const offered = methods?.names ?? [];
      const detail = `authentication method ${JSON.stringify(name)} is not offered${offered.length > 0 ? ` (offered: ${offered.join(', ')})` : ''}`;
      return { flow: null, outcome: { kind: 'refused', reasonCode: ReasonCode.BadAuthenticationMethod, detail } };
    }
    const flow = new AuthFlow(method, connect);
    return { flow, outcome: flow.step(connect.properties?.authenticationData) };
  }

  /** The CONNECT is still waiting for its exchange to end (no CONNACK yet). */
  get authenticating(): boolean {
    return this.pendingConnect !== null;
  }

  /** An AUTH from the client. Throws ProtocolViolation for an AUTH the spec forbids here. */
  onAuth(packet: IAuthPacket): AuthOutcome {
    const rc = packet.reasonCode ?? ReasonCode.Success;
    const name = packet.properties?.authenticationMethod;
    if (name === undefined) throw new ProtocolViolation(ReasonCode.ProtocolError, 'AUTH without Authentication Method'); // §3.15.2.2.2
    if (name !== this.method.name) {
      // [MQTT-4.12.0-5], [MQTT-4.12.1-1]
      throw new ProtocolViolation(ReasonCode.ProtocolError, `AUTH names method ${JSON.stringify(name)}, the CONNECT named ${JSON.stringify(this.method.name)}`);
    }
    if (this.pendingConnect !== null) {
      if (rc !== ReasonCode.ContinueAuthentication) {
        throw new ProtocolViolation(ReasonCode.ProtocolError, `AUTH ${reasonName(rc)} before CONNACK: only 0x18 continues the exchange`); // [MQTT-4.12.0-3]
      }
      return this.step(packet.properties?.authenticationData);
    }
    if (rc === ReasonCode.ReAuthenticate) {
      if (this.exchange !== null) throw new ProtocolViolation(ReasonCode.ProtocolError, 'AUTH 0x19 while a re-authentication is in progress');
      this.exchange = this.method.begin(); // §4.12.1
      return this.step(packet.properties?.authenticationData);
    }
    if (rc === ReasonCode.ContinueAuthentication) {
      if (this.exchange === null) throw new ProtocolViolation(ReasonCode.ProtocolError, 'AUTH 0x18 with no re-authentication in progress');
      return this.step(packet.properties?.authenticationData);
    }
    throw new ProtocolViolation(ReasonCode.ProtocolError, `AUTH ${reasonName(rc)} from a client`); // [MQTT-3.15.2-1]
  }

  private step(data: Buffer | undefined): AuthOutcome {
    const s = this.exchange!.step(data);
    const connect = this.pendingConnect;
    if (s.kind === 'continue') {
      // [MQTT-4.12.0-2], [MQTT-4.12.0-5]
      return { kind: 'challenge', packet: this.authPacket(ReasonCode.ContinueAuthentication, s.data) };
    }
    this.exchange = null;
    if (s.kind === 'failure') {
      // [MQTT-4.12.0-4] before CONNACK, [MQTT-4.12.1-2] after it
      const reasonCode = connect === null ? ReasonCode.NotAuthorized : s.why === 'credentials' ? ReasonCode.BadUserNameOrPassword : ReasonCode.NotAuthorized;
      return { kind: 'refused', reasonCode, detail: `${connect === null ? 're-authentication' : 'authentication'} failed: ${s.detail}` };
    }
    if (connect === null) {
      if (s.identity !== this.identity) {
        return { kind: 'refused', reasonCode: ReasonCode.NotAuthorized, detail: `re-authentication as ${JSON.stringify(s.identity)}, the connection is ${JSON.stringify(this.identity)}` };
      }
      return { kind: 'reauthenticated', packet: this.authPacket(ReasonCode.Success, s.data) };
    }
    if (connect.username !== undefined && connect.username !== s.identity) {
      return { kind: 'refused', reasonCode: ReasonCode.BadUserNameOrPassword, detail: `CONNECT User Name ${JSON.stringify(connect.username)} is not the authenticated user ${JSON.stringify(s.identity)}` };
    }
    this.identity = s.identity;
    this.pendingConnect = null;
    return { kind: 'connected', connect, method: this.method.name, data: s.data, identity: s.identity };
  }

  private authPacket(reasonCode: number, data: Buffer | undefined): IAuthPacket {
    const properties: NonNullable<IAuthPacket['properties']> = { authenticationMethod: this.method.name };
    if (data !== undefined) properties.authenticationData = data;
    return { cmd: 'auth', reasonCode, properties };
  }
}
