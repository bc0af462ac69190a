// Typings for `swim` (installed as npm:happn-swim@1.0.3, pure JS, CommonJS; read from its lib/*.js).
// Only src/cluster/membership.ts imports it. Besides the public API (constructor, bootstrap, join,
// leave, members, whoami, events) this declares the few internals membership.ts replaces or tunes,
// each marked INTERNAL with the reason; they are stable because the package has not changed since 2016.
declare module 'swim' {
  import { EventEmitter } from 'node:events';
  import type { RemoteInfo } from 'node:dgram';

  namespace Swim {
    /** Member.State in lib/member.js. */
    type MemberStateCode = 0 | 1 | 2; // Alive, Suspect, Faulty

    /** What `members()`, 'change' and 'update' hand out (a deep clone of lib/member.js's data()). */
    interface MemberData {
      /** Opaque, JSON-encoded in every gossip record about the member. */
      meta: unknown;
      /** "host:port": the member's identity AND the address datagrams are sent to. */
      host: string;
      state: MemberStateCode;
      /** SWIM's refutation counter: a member raises it to contradict a suspicion about itself. */
      incarnation: number;
    }

    /** INTERNAL lib/member.js: a member as membership holds it (what the failure detector passes). */
    interface Member {
      host: string;
      state: MemberStateCode;
      incarnation: number;
      meta: unknown;
      data(): MemberData;
    }

    interface Options {
      local: {
        /** "host:port" others reach us at; swim also parses the port from it to bind (we bind ourselves). */
        host: string;
        meta?: unknown;
        /** Starting value of our own SWIM incarnation (lib/member.js reads it; default 0). */
        incarnation?: number;
      };
      /** Only 'json' exists in happn-swim. */
      codec?: 'json';
      /** Retransmissions of an update: ceil(factor * log10(members + 1)). Default 15. */
      disseminationFactor?: number;
      /** Failure-detector period: one member is pinged per interval (ms). Default 20. */
      interval?: number;
      /** How long `join` waits for a seed to answer before reporting failure (ms). Default 300. */
      joinTimeout?: number;
      /** Wait for a direct ack before asking others to ping (ms). Default 4. */
      pingTimeout?: number;
      /** Wait for an indirect ack before suspecting (ms); the relays use pingTimeout. Default 12. */
      pingReqTimeout?: number;
      /** Members asked to ping a silent member. Default 3. */
      pingReqGroupSize?: number;
      udp?: { type?: 'udp4' | 'udp6'; maxDgramSize?: number };
      // NB: a `suspectTimeout` option is NOT honoured (swim.js passes an undefined field to
      // Membership); set `membership.suspectTimeout` on the instance instead.
    }

    const EventType: { readonly Change: 'change'; readonly Update: 'update'; readonly Error: 'error'; readonly Ready: 'ready' };
    const State: { readonly Started: 'started'; readonly Stopped: 'stopped' };
    const Default: { joinTimeout: number };

    /** INTERNAL lib/net.js. membership.ts replaces listen/close/sendBuffer on the instance: to bind
     * the configured address (swim binds every interface) and to seal/open every datagram. */
    interface Net {
      udp: { port: number; type: 'udp4' | 'udp6'; maxDgramSize: number };
      udpSocket: import('node:dgram').Socket;
      listen(callback: (err?: Error) => void): void;
      close(): void;
      sendBuffer(buffer: Buffer, host: string): void;
      /** Entry point for a received datagram (swim's own socket listener). */
      onNetMessage(buffer: Buffer, rinfo: RemoteInfo): void;
      /** Encodes, piggybacks pending updates and sends one datagram. */
      sendMessage(message: { type: number; data?: unknown }, host: string): void;
    }

    /** INTERNAL lib/membership.js. */
    interface Membership extends EventEmitter {
      /** Suspect → faulty after this many ms without a refutation. Default 10. */
      suspectTimeout: number;
      local: { host: string; incarnation: number; meta: unknown; data(): MemberData };
      /** Members currently believed faulty, by host (swim keeps them to drop stale alive records). */
      hostToFaulty: Record<string, { data(): MemberData }>;
      /** Pending suspect → faulty timers, by host. */
      hostToSuspectTimeout: Record<string, NodeJS.Timeout | undefined>;
      /** Marks a member suspect and (re)starts its suspect timer; the failure detector's 'suspect' handler. */
      onSuspect(member: Member): void;
      /** onSuspect bound to the instance; start() subscribes this very function, so replace it before bootstrap. */
      suspectListener: (member: Member) => void;
      /** Sends our record plus everything we know to each host (what `join` does). */
      sync(hosts: string[]): void;
      /** The live (alive or suspect) member at `host`, if any. */
      get(host: string): Member | undefined;
      /** Applies a faulty record (onUpdate calls it through `this`, so an instance property replaces it). */
      updateFaulty(data: MemberData): void;
    }

    /** INTERNAL lib/failure-detector.js. */
    interface FailureDetector {
      /** Pings `member` now (then ping-req and suspicion as for the periodic probe). */
      pingMember(member: Member): void;
    }

    namespace Error {
      class JoinFailedError extends globalThis.Error {
        meta?: { local: string; hosts: string[]; numberOfHostsResponded: number; timeout: number };
      }
      class InvalidStateError extends globalThis.Error {}
      class ListenFailedError extends globalThis.Error {}
    }
  }

  class Swim extends EventEmitter {
    constructor(opts: Swim.Options);
    opts: Swim.Options;
    state: 'started' | 'stopped';
    /** INTERNAL, see Swim.Net and Swim.Membership. */
    net: Swim.Net;
    membership: Swim.Membership;
    failureDetector: Swim.FailureDetector;
    /** Listens, starts the failure detector and joins `hosts` (callback or 'ready'/'error'). */
    bootstrap(hosts: string[], callback?: (err?: Error) => void): void;
    /** Sends a sync to `hosts` (self filtered out by exact string) and after joinTimeout reports
     * whether one of them is now a member, again by exact "host:port" string. */
    join(hosts: string[], callback?: (err?: Error) => void): void;
    /** Stops timers and closes the socket; sends nothing, so peers see a failure. */
    leave(): void;
    /** Alive and suspect members; with `hasLocal`, ourselves too. Faulty ones are not listed. */
    members(hasLocal?: boolean): Swim.MemberData[];
    checksum(): string;
    whoami(): string;
    localhost(): string;
    /** 'change': a member appeared or turned faulty. 'update': any accepted record (new, suspect,
     * faulty, refuted, or our own incarnation raised). */
    on(event: 'change' | 'update', listener: (data: Swim.MemberData) => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
    on(event: 'ready', listener: () => void): this;
  }

  export = Swim;
}
