// Original file: proto/cluster.proto

import type { MessageProperties as _cluster_v1_MessageProperties, MessageProperties__Output as _cluster_v1_MessageProperties__Output } from '../../cluster/v1/MessageProperties.js';
import type { Long } from '@grpc/proto-loader';

/**
 * A published message as it crosses nodes, with what MQTT 5 delivery needs.
 */
export interface ForwardedMessage {
  'topic'?: (string);
  'payload'?: (Buffer | Uint8Array | string);
  'qos'?: (number);
  'retain'?: (boolean);
  /**
   * Publisher's client id: No Local [MQTT-3.8.3-3] is decided by the receiving node.
   */
  'publisher_id'?: (string);
  /**
   * Absent for a message without properties (MQTT 3.1.1, or none given).
   */
  'properties'?: (_cluster_v1_MessageProperties | null);
  /**
   * Epoch ms after which the message is dropped (from Message Expiry Interval); absent: never.
   */
  'expires_at_ms'?: (number | string | Long);
  /**
   * Deliver to the receiver's non-shared subscribers that match.
   */
  'deliver_direct'?: (boolean);
  /**
   * Shared groups whose one chosen delivery goes to this node; the receiver picks one of its
   * local members of each ("$share/{group}/{filter}" as subscribed).
   */
  'shared_groups'?: (string)[];
  /**
   * Non-zero: the sender wants a ForwardAck once the copies for persistent sessions are stored.
   */
  'ack_id'?: (number | string | Long);
  '_expires_at_ms'?: "expires_at_ms";
}

/**
 * A published message as it crosses nodes, with what MQTT 5 delivery needs.
 */
export interface ForwardedMessage__Output {
  'topic': (string);
  'payload': (Buffer);
  'qos': (number);
  'retain': (boolean);
  /**
   * Publisher's client id: No Local [MQTT-3.8.3-3] is decided by the receiving node.
   */
  'publisher_id': (string);
  /**
   * Absent for a message without properties (MQTT 3.1.1, or none given).
   */
  'properties': (_cluster_v1_MessageProperties__Output | null);
  /**
   * Epoch ms after which the message is dropped (from Message Expiry Interval); absent: never.
   */
  'expires_at_ms'?: (string);
  /**
   * Deliver to the receiver's non-shared subscribers that match.
   */
  'deliver_direct': (boolean);
  /**
   * Shared groups whose one chosen delivery goes to this node; the receiver picks one of its
   * local members of each ("$share/{group}/{filter}" as subscribed).
   */
  'shared_groups': (string)[];
  /**
   * Non-zero: the sender wants a ForwardAck once the copies for persistent sessions are stored.
   */
  'ack_id': (string);
  '_expires_at_ms'?: "expires_at_ms";
}
