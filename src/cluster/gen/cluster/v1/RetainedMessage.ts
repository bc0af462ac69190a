// Original file: proto/cluster.proto

import type { MessageProperties as _cluster_v1_MessageProperties, MessageProperties__Output as _cluster_v1_MessageProperties__Output } from '../../cluster/v1/MessageProperties.js';
import type { Long } from '@grpc/proto-loader';

export interface RetainedMessage {
  'payload'?: (Buffer | Uint8Array | string);
  'qos'?: (number);
  'publisher_id'?: (string);
  'properties'?: (_cluster_v1_MessageProperties | null);
  'expires_at_ms'?: (number | string | Long);
  '_expires_at_ms'?: "expires_at_ms";
}

export interface RetainedMessage__Output {
  'payload': (Buffer);
  'qos': (number);
  'publisher_id': (string);
  'properties': (_cluster_v1_MessageProperties__Output | null);
  'expires_at_ms'?: (string);
  '_expires_at_ms'?: "expires_at_ms";
}
