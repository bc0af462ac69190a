// Original file: proto/cluster.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Owner -> the node holding a session that lost to a later registration (after a partition):
 * end it (its connection gets 0x8E).
 */
export interface Evict {
  'client_id'?: (string);
  'since_ms'?: (number | string | Long);
  /**
   * The node whose registration won.
   */
  'winner'?: (string);
}

/**
 * Owner -> the node holding a session that lost to a later registration (after a partition):
 * end it (its connection gets 0x8E).
 */
export interface Evict__Output {
  'client_id': (string);
  'since_ms': (string);
  /**
   * The node whose registration won.
   */
  'winner': (string);
}
