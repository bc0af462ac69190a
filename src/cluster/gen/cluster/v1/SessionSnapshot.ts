// Original file: proto/cluster.proto

import type { SessionSubscription as _cluster_v1_SessionSubscription, SessionSubscription__Output as _cluster_v1_SessionSubscription__Output } from '../../cluster/v1/SessionSubscription.js';
import type { SessionCopy as _cluster_v1_SessionCopy, SessionCopy__Output as _cluster_v1_SessionCopy__Output } from '../../cluster/v1/SessionCopy.js';
import type { SessionWill as _cluster_v1_SessionWill, SessionWill__Output as _cluster_v1_SessionWill__Output } from '../../cluster/v1/SessionWill.js';
import type { Long } from '@grpc/proto-loader';

/**
 * SessionState as data. Epoch milliseconds are uint64 (absent: null).
 */
export interface SessionSnapshot {
  'client_id'?: (string);
  /**
   * 4 (3.1.1) or 5.
   */
  'protocol_version'?: (number);
  'expiry_interval_sec'?: (number);
  'disconnected_at_ms'?: (number | string | Long);
  'client_receive_maximum'?: (number);
  'subscriptions'?: (_cluster_v1_SessionSubscription)[];
  /**
   * Inbound QoS 2 packet ids that got PUBREC and wait for PUBREL.
   */
  'inbound_qos2'?: (number)[];
  /**
   * Sent and unacknowledged, in send order.
   */
  'inflight'?: (_cluster_v1_SessionCopy)[];
  /**
   * Waiting to be sent, in arrival order.
   */
  'queue'?: (_cluster_v1_SessionCopy)[];
  'next_seq'?: (number | string | Long);
  'next_packet_id'?: (number);
  'will'?: (_cluster_v1_SessionWill | null);
  'will_due_at_ms'?: (number | string | Long);
  'expires_at_ms'?: (number | string | Long);
  /**
   * The user the session belongs to (absent: anonymous); the new node checks a resuming CONNECT
   * against it (--session-owner-check).
   */
  'username'?: (string);
  '_disconnected_at_ms'?: "disconnected_at_ms";
  '_will'?: "will";
  '_will_due_at_ms'?: "will_due_at_ms";
  '_expires_at_ms'?: "expires_at_ms";
  '_username'?: "username";
}

/**
 * SessionState as data. Epoch milliseconds are uint64 (absent: null).
 */
export interface SessionSnapshot__Output {
  'client_id': (string);
  /**
   * 4 (3.1.1) or 5.
   */
  'protocol_version': (number);
  'expiry_interval_sec': (number);
  'disconnected_at_ms'?: (string);
  'client_receive_maximum': (number);
  'subscriptions': (_cluster_v1_SessionSubscription__Output)[];
  /**
   * Inbound QoS 2 packet ids that got PUBREC and wait for PUBREL.
   */
  'inbound_qos2': (number)[];
  /**
   * Sent and unacknowledged, in send order.
   */
  'inflight': (_cluster_v1_SessionCopy__Output)[];
  /**
   * Waiting to be sent, in arrival order.
   */
  'queue': (_cluster_v1_SessionCopy__Output)[];
  'next_seq': (string);
  'next_packet_id': (number);
  'will'?: (_cluster_v1_SessionWill__Output | null);
  'will_due_at_ms'?: (string);
  'expires_at_ms'?: (string);
  /**
   * The user the session belongs to (absent: anonymous); the new node checks a resuming CONNECT
   * against it (--session-owner-check).
   */
  'username'?: (string);
  '_disconnected_at_ms'?: "disconnected_at_ms";
  '_will'?: "will";
  '_will_due_at_ms'?: "will_due_at_ms";
  '_expires_at_ms'?: "expires_at_ms";
  '_username'?: "username";
}
