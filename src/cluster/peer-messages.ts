// What nodes say to each other, as plain data: the cluster's pure modules and the simulator speak
// these types, and src/cluster/wire-codec.ts maps them to and from the cluster.v1 protobuf
// messages at the gRPC edge. Numbers are JS numbers here (epoch ms and sequence numbers stay far
// below 2^53); the wire carries them as uint64.

import type { AppMessage, ForwardedProperties, QoS } from '../protocol/message.js';

/** Changes to one origin's routes: applied in `seq` order (1, 2, ...) within an incarnation.
 * Filters are as subscribed, a shared subscription as `$share/{group}/{filter}`. */
export interface RouteDelta {
  readonly origin: string;
  readonly incarnation: number;
  readonly seq: number;
  readonly adds: readonly string[];
  readonly removes: readonly string[];
}

/** A summary of one origin's slice, enough to tell whether two nodes hold the same slice. */
export interface OriginDigest {
  readonly origin: string;
  readonly incarnation: number;
  readonly lastSeq: number;
  readonly count: number;
  /** Order-independent hash of the slice's filters (src/cluster/route-digest.ts). */
  readonly hash: string;
}

export interface DigestSet {
  /** The sender; its digest of its own slice is authoritative. */
  readonly from: string;
  readonly digests: readonly OriginDigest[];
}

/** One origin's whole slice at one point of its delta sequence (a FullSync answer). */
export interface RouteSlice {
  readonly origin: string;
  readonly incarnation: number;
  readonly lastSeq: number;
  readonly filters: readonly string[];
}

/** A published message on its way to one node: the message plus which of that node's
 * subscriptions it is for. */
export interface ForwardedPublish {
  readonly message: AppMessage;
  /** Deliver to the receiver's matching non-shared subscriptions. */
  readonly deliverDirect: boolean;
  /** Shared groups (`$share/{group}/{filter}`) whose one delivery the publishing node gave to
   * this node; the receiver picks one local member of each. */
  readonly sharedGroups: readonly string[];
  /** Non-zero: answer with a ForwardAck once copies for persistent sessions are stored. */
  readonly ackId: number;
}

export type ForwardStatus = 'stored' | 'refused' | 'no-member';

export interface ForwardAck {
  readonly ackId: number;
  readonly status: ForwardStatus;
}

/** A retained message as replicated: the message, or null for a clear (tombstone). */
export interface RetainedUpdate {
  readonly topic: string;
  readonly message: RetainedPayload | null;
  /** Last writer wins by (timestampMs, node), compared in that order. */
  readonly timestampMs: number;
  readonly node: string;
}

export interface RetainedPayload {
  readonly payload: Uint8Array;
  readonly qos: QoS;
  readonly publisherId: string;
  readonly properties?: ForwardedProperties;
  readonly expiresAt?: number;
}

/** A session living on the sender (present) or gone from it, for the owner's registry. */
export interface Registration {
  readonly clientId: string;
  readonly present: boolean;
  /** When it arrived at the sender (epoch ms, the sender's clock; 0: restored from storage). */
  readonly since: number;
}

/** One message on a peer stream. */
export type PeerMessage =
  | { readonly kind: 'route-delta'; readonly delta: RouteDelta }
  | { readonly kind: 'digests'; readonly set: DigestSet }
  | { readonly kind: 'forward'; readonly publishes: readonly ForwardedPublish[] }
  | { readonly kind: 'forward-ack'; readonly ack: ForwardAck }
  | { readonly kind: 'retained'; readonly updates: readonly RetainedUpdate[] }
  | { readonly kind: 'registrations'; readonly view: string; readonly entries: readonly Registration[]; readonly complete: boolean }
  | { readonly kind: 'evict'; readonly clientId: string; readonly since: number; readonly winner: string };
