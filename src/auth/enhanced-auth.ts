// MQTT 5 enhanced authentication (§4.12): the methods a node offers, by the exact name a client
// puts in CONNECT's Authentication Method. A method turns Authentication Data into the next
// challenge, an acceptance or a refusal; the MQTT side of the flow (which packet carries what,
// reason codes, re-authentication) is src/transport/auth-flow.ts, the same for every method.

/** What a method answers to one piece of client Authentication Data. */
export type AuthStep =
  /** More is needed: sent to the client in AUTH 0x18 [MQTT-4.12.0-2]. */
  | { kind: 'continue'; data: Buffer }
  /** Accepted as `identity` (the authenticated user); `data` goes in CONNACK or AUTH 0x00. */
  | { kind: 'success'; identity: string; data: Buffer | undefined }
  /**
   * Refused. 'credentials': the client could not prove who it is (CONNACK 0x86); 'refused':
   * anything else, e.g. data that is not of this method (CONNACK 0x87).
   */
  | { kind: 'failure'; why: 'credentials' | 'refused'; detail: string };

/** One exchange: CONNECT to CONNACK, or AUTH 0x19 to AUTH 0x00. */
export interface AuthExchange {
  step(data: Buffer | undefined): AuthStep;
}

export interface AuthMethod {
  /** As the client names it, compared exactly (e.g. `SCRAM-SHA-256`). */
  readonly name: string;
  /** A new exchange; its first step() gets the CONNECT's (or AUTH 0x19's) Authentication Data. */
  begin(): AuthExchange;
}

/** The methods a node offers; none by default, in which case every method gets 0x8C. */
export class AuthMethods {
  private readonly byName = new Map<string, AuthMethod>();

  constructor(methods: readonly AuthMethod[] = []) {
    for (const m of methods) this.byName.set(m.name, m);
  }

  /** Exact match: method names are case-sensitive UTF-8 strings (§3.1.2.11.9). */
  get(name: string): AuthMethod | undefined {
    return this.byName.get(name);
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }
}
