// Original file: proto/cluster.proto

import type { SessionCopy as _cluster_v1_SessionCopy, SessionCopy__Output as _cluster_v1_SessionCopy__Output } from '../../cluster/v1/SessionCopy.js';

/**
 * Old node -> new node: the old node's decision, the same on every repeated End.
 */
export interface TakeoverEnded {
  /**
   * false: the old node kept the session (it gave up waiting, or the new node aborted).
   */
  'handed_over'?: (boolean);
  /**
   * The copies that reached the old node after the export, in order.
   */
  'arrived'?: (_cluster_v1_SessionCopy)[];
}

/**
 * Old node -> new node: the old node's decision, the same on every repeated End.
 */
export interface TakeoverEnded__Output {
  /**
   * false: the old node kept the session (it gave up waiting, or the new node aborted).
   */
  'handed_over': (boolean);
  /**
   * The copies that reached the old node after the export, in order.
   */
  'arrived': (_cluster_v1_SessionCopy__Output)[];
}
