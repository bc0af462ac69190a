// Named errors of the gossip membership; each message says what failed and what to do.

/** Another live node already uses our --node-name; this node must not join (exit 1). */
export class DuplicateNodeNameError extends Error {
  override readonly name = 'DuplicateNodeNameError';
  readonly code = 'CLUSTER_DUPLICATE_NODE_NAME';
  constructor(
    readonly nodeName: string,
    /** Gossip address of the node that holds the name. */
    readonly otherAddress: string,
    readonly otherIncarnation: number,
  ) {
    super(
      `node name "${nodeName}" is already used by the live node at gossip address ${otherAddress} ` +
        `(started ${new Date(otherIncarnation).toISOString()}); give this node another --node-name, or stop that node first`,
    );
  }
}

/** The gossip UDP socket could not be bound. */
export class GossipBindError extends Error {
  override readonly name = 'GossipBindError';
  readonly code = 'CLUSTER_GOSSIP_BIND';
  constructor(
    readonly address: string,
    cause: unknown,
  ) {
    const why = (cause as NodeJS.ErrnoException | undefined)?.code ?? String(cause);
    super(`cannot bind the gossip UDP socket to ${address}: ${why}; pick a free address with --gossip host:port`, { cause });
  }
}

/** Our gossip record would not fit the datagram budget. */
export class MemberRecordTooLargeError extends Error {
  override readonly name = 'MemberRecordTooLargeError';
  readonly code = 'CLUSTER_MEMBER_RECORD_TOO_LARGE';
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `this node's gossip record is ${bytes} bytes, over the ${limit}-byte limit that keeps it well inside a 512-byte ` +
        `datagram; shorten --node-name, or use IP addresses for --advertise and --grpc`,
    );
  }
}

/** start() called twice, or after close(). */
export class MembershipStateError extends Error {
  override readonly name = 'MembershipStateError';
  readonly code = 'CLUSTER_MEMBERSHIP_STATE';
}
