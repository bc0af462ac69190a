// The node's side of authentication and authorisation (src/auth/access-control.ts decides): who
// each client and session is, and the checks at the points where the node handles their packets —
// CONNECT (login, will topic, session owner), PUBLISH (write), SUBSCRIBE (subscribe) and every
// delivery (read: live, retained, forwarded by a peer, from the offline queue's producers).
//
// Sessions are identified by user name even while offline, for the read check of the copies that
// queue for them: `owners` keeps the user name of every session that has one (anonymous sessions,
// the common case without a password file, cost nothing). The session actor holds the same fact
// in its state and storage, and is the authority for the owner check; the check here only spares
// the node the work of a CONNECT that the actor would refuse.

import type { IConnectPacket } from 'mqtt-packet';
import type { AccessControl, LoginResult } from '../auth/access-control.js';
import type { SubscribeRequest } from '../actors/session-types.js';
import type { Logger } from '../log.js';
import type { ConnectAccepted } from '../protocol/connect.js';
import { ReasonCode } from '../protocol/reason-codes.js';
import { LogBudget } from './log-budget.js';

/** What the gate needs of a connection. */
export interface GatedConnection {
  readonly clientId: string | null;
  readonly remoteAddress: string;
  readonly protocolVersion: number;
  /** Set once the CONNECT is admitted: the user this connection acts as (null: anonymous). */
  username: string | null;
}

export type Admission = { ok: true; username: string | null } | { ok: false; reasonCode: number; detail: string };

export class AccessGate {
  private readonly owners = new Map<string, string>();
  private readonly logBudget = new LogBudget();

  constructor(
    readonly control: AccessControl,
    private readonly log: Logger,
    /** Online connections by client id: their user name is the one to check. */
    private readonly online: ReadonlyMap<string, GatedConnection>,
  ) {}

  get aclActive(): boolean {
    return this.control.acl !== null;
  }

  get ownerCheck(): boolean {
    return this.control.ownerCheck;
  }

  /** Decides a CONNECT: at once when no password needs checking, else once it is checked. */
  admit(conn: GatedConnection, packet: IConnectPacket, decision: ConnectAccepted, now: number): Admission | Promise<Admission> {
    const result = this.control.login(
      { username: packet.username, password: packet.password, authenticatedAs: decision.authenticatedUser ?? decision.certificateUsername, address: conn.remoteAddress },
      now,
    );
    return result instanceof Promise ? result.then((r) => this.decide(conn, packet, decision.clientId, r, now)) : this.decide(conn, packet, decision.clientId, result, now);
  }

  private decide(conn: GatedConnection, packet: IConnectPacket, clientId: string, r: LoginResult, now: number): Admission {
    const v5 = conn.protocolVersion === 5;
    if (!r.ok) {
      // 3.1.1 has no "bad user name or password" distinct from this in practice: Mosquitto and
      // the brief answer 0x05 Not authorized; v5 gets the precise code (§3.2.2.2).
      const reasonCode =
        r.why === 'credentials' ? (v5 ? ReasonCode.BadUserNameOrPassword : ReasonCode.NotAuthorized)
        : r.why === 'locked' ? ReasonCode.ConnectionRateExceeded
        : r.why === 'busy' ? ReasonCode.ServerBusy
        : ReasonCode.NotAuthorized;
      this.warn('auth.failed', now, { clientId, address: conn.remoteAddress, username: packet.username ?? null, why: r.why }, `login refused: ${r.detail}`);
      return { ok: false, reasonCode, detail: r.detail };
    }
    const will = packet.will?.topic;
    if (will !== undefined && this.control.acl !== null && !this.control.acl.mayPublish(r.username, clientId, will)) {
      const detail = `the ACL does not let this client publish its will topic ${JSON.stringify(will)}`;
      this.warn('acl.will.denied', now, { clientId, address: conn.remoteAddress, username: r.username }, detail);
      return { ok: false, reasonCode: ReasonCode.NotAuthorized, detail };
    }
    const owner = this.owners.get(clientId);
    if (this.control.ownerCheck && owner !== undefined && owner !== r.username) {
      const detail = `client id ${JSON.stringify(clientId)} has a session of user ${JSON.stringify(owner)}; ${r.username === null ? 'an anonymous client' : JSON.stringify(r.username)} may not resume or take it over`;
      this.warn('session.owner.refused', now, { clientId, address: conn.remoteAddress, username: r.username }, detail);
      return { ok: false, reasonCode: ReasonCode.NotAuthorized, detail };
    }
    return r;
  }

  /** The session of `clientId` belongs to `username` (CONNACK, restore, install). */
  owned(clientId: string, username: string | null): void {
    if (username === null) this.owners.delete(clientId);
    else this.owners.set(clientId, username);
  }

  /** The session of `clientId` ended. */
  ended(clientId: string): void {
    if (!this.online.has(clientId)) this.owners.delete(clientId);
  }

  /** Whether `conn` may publish to `topic`; logs a refusal (budgeted). */
  mayPublish(conn: GatedConnection, topic: string, now: number): boolean {
    const acl = this.control.acl;
    if (acl === null || acl.mayPublish(conn.username, conn.clientId!, topic)) return true;
    this.warn('acl.publish.denied', now, { clientId: conn.clientId, username: conn.username, topic }, 'PUBLISH dropped: the ACL does not let this client write to its topic');
    return false;
  }

  /** Marks the requests the ACL refuses (`denied`), for the SUBACK both sides decide. */
  markSubscribe(conn: GatedConnection, requests: SubscribeRequest[]): void {
    const acl = this.control.acl;
    if (acl === null) return;
    for (const r of requests) if (!acl.maySubscribe(conn.username, conn.clientId!, r.filter)) r.denied = true;
  }

  /** Whether the session of `clientId` may receive a message on `topic`. */
  readonly mayRead = (clientId: string, topic: string): boolean => {
    const acl = this.control.acl;
    if (acl === null) return true;
    const conn = this.online.get(clientId);
    const username = conn !== undefined ? conn.username : (this.owners.get(clientId) ?? null);
    return acl.mayRead(username, clientId, topic);
  };

  /** SIGHUP: both files again; a broken one keeps the old contents (logged as an error). */
  reload(): void {
    for (const r of this.control.reload()) {
      if (r.error === null) this.log.info({ event: 'auth.reloaded', file: r.file, path: r.path, entries: r.entries }, `${r.file} reloaded`);
      else this.log.error({ event: 'auth.reload.failed', file: r.file, path: r.path, error: r.error }, `${r.file} ${r.path} not reloaded, the previous contents stay in force: ${r.error}; fix the file and send SIGHUP again`);
    }
  }

  private warn(event: string, now: number, fields: Record<string, unknown>, msg: string): void {
    const leftOut = this.logBudget.take(event, now);
    if (leftOut === null) return;
    this.log.warn(leftOut === 0 ? { event, ...fields } : { event, ...fields, linesLeftOut: leftOut }, msg);
  }
}
