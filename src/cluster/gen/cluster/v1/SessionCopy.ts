// Original file: proto/cluster.proto

import type { SessionMessage as _cluster_v1_SessionMessage, SessionMessage__Output as _cluster_v1_SessionMessage__Output } from '../../cluster/v1/SessionMessage.js';
import type { Long } from '@grpc/proto-loader';

/**
 * One copy of a message for a session (StoredMessage).
 */
export interface SessionCopy {
  'seq'?: (number | string | Long);
  /**
   * "queued" | "inflight" | "released" (QoS 2: PUBREC received, PUBREL sent).
   */
  'state'?: (string);
  /**
   * Absent while queued.
   */
  'packet_id'?: (number);
  'qos'?: (number);
  'retain'?: (boolean);
  'subscription_ids'?: (number)[];
  'message'?: (_cluster_v1_SessionMessage | null);
  '_packet_id'?: "packet_id";
}

/**
 * One copy of a message for a session (StoredMessage).
 */
export interface SessionCopy__Output {
  'seq': (string);
  /**
   * "queued" | "inflight" | "released" (QoS 2: PUBREC received, PUBREL sent).
   */
  'state': (string);
  /**
   * Absent while queued.
   */
  'packet_id'?: (number);
  'qos': (number);
  'retain': (boolean);
  'subscription_ids': (number)[];
  'message': (_cluster_v1_SessionMessage__Output | null);
  '_packet_id'?: "packet_id";
}
