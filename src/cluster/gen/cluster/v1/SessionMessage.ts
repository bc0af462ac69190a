// Original file: proto/cluster.proto

import type { MessageProperties as _cluster_v1_MessageProperties, MessageProperties__Output as _cluster_v1_MessageProperties__Output } from '../../cluster/v1/MessageProperties.js';
import type { Long } from '@grpc/proto-loader';

/**
 * An application message as a session holds it (AppMessage).
 */
export interface SessionMessage {
  'topic'?: (string);
  'payload'?: (Buffer | Uint8Array | string);
  'qos'?: (number);
  'retain'?: (boolean);
  'publisher_id'?: (string);
  'properties'?: (_cluster_v1_MessageProperties | null);
  'expires_at_ms'?: (number | string | Long);
  '_expires_at_ms'?: "expires_at_ms";
}

/**
 * An application message as a session holds it (AppMessage).
 */
export interface SessionMessage__Output {
  'topic': (string);
  'payload': (Buffer);
  'qos': (number);
  'retain': (boolean);
  'publisher_id': (string);
  'properties': (_cluster_v1_MessageProperties__Output | null);
  'expires_at_ms'?: (string);
  '_expires_at_ms'?: "expires_at_ms";
}
