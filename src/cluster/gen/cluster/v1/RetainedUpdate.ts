// Original file: proto/cluster.proto

import type { RetainedMessage as _cluster_v1_RetainedMessage, RetainedMessage__Output as _cluster_v1_RetainedMessage__Output } from '../../cluster/v1/RetainedMessage.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One retained topic's latest state. Last writer wins by (timestamp_ms, node), compared in that
 * order; a tombstone (no message) is a write like any other.
 */
export interface RetainedUpdate {
  'topic'?: (string);
  /**
   * Absent: the retained message was cleared (tombstone).
   */
  'message'?: (_cluster_v1_RetainedMessage | null);
  'timestamp_ms'?: (number | string | Long);
  'node'?: (string);
  '_message'?: "message";
}

/**
 * One retained topic's latest state. Last writer wins by (timestamp_ms, node), compared in that
 * order; a tombstone (no message) is a write like any other.
 */
export interface RetainedUpdate__Output {
  'topic': (string);
  /**
   * Absent: the retained message was cleared (tombstone).
   */
  'message'?: (_cluster_v1_RetainedMessage__Output | null);
  'timestamp_ms': (string);
  'node': (string);
  '_message'?: "message";
}
