// Original file: proto/cluster.proto


/**
 * What the graceful leave did, step by step (src/cluster/node-drain.ts: DrainReport).
 */
export interface DrainResponse {
  'node'?: (string);
  /**
   * Persistent sessions moved to live peers, those that stay in this node's storage, and those
   * that ended instead of moving (sessions_ended, field 11).
   */
  'sessions_pushed'?: (number);
  'sessions_kept'?: (number);
  /**
   * MQTT 5 clients sent DISCONNECT 0x9C with a Server Reference; MQTT 5 clients sent 0x8B
   * (no live peer to refer them to); MQTT 3.1.1 clients closed.
   */
  'clients_redirected'?: (number);
  'clients_shut_down'?: (number);
  'clients_closed'?: (number);
  /**
   * Forwarded messages acknowledged by peers during the wait, and still unacknowledged at its end.
   */
  'forwards_settled'?: (number);
  'forwards_unsettled'?: (number);
  /**
   * The drain timeout cut a step short.
   */
  'timed_out'?: (boolean);
  'elapsed_ms'?: (number);
  'sessions_ended'?: (number);
}

/**
 * What the graceful leave did, step by step (src/cluster/node-drain.ts: DrainReport).
 */
export interface DrainResponse__Output {
  'node': (string);
  /**
   * Persistent sessions moved to live peers, those that stay in this node's storage, and those
   * that ended instead of moving (sessions_ended, field 11).
   */
  'sessions_pushed': (number);
  'sessions_kept': (number);
  /**
   * MQTT 5 clients sent DISCONNECT 0x9C with a Server Reference; MQTT 5 clients sent 0x8B
   * (no live peer to refer them to); MQTT 3.1.1 clients closed.
   */
  'clients_redirected': (number);
  'clients_shut_down': (number);
  'clients_closed': (number);
  /**
   * Forwarded messages acknowledged by peers during the wait, and still unacknowledged at its end.
   */
  'forwards_settled': (number);
  'forwards_unsettled': (number);
  /**
   * The drain timeout cut a step short.
   */
  'timed_out': (boolean);
  'elapsed_ms': (number);
  'sessions_ended': (number);
}
