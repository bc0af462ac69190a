// Original file: proto/cluster.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The answering node's own load, for the dashboard and /api/v1/cluster/members: counters since
 * it started (the caller takes rates) and current sizes. Absent from nodes older than this field.
 */
export interface NodeLoad {
  'connections'?: (number);
  'messages_received'?: (number | string | Long);
  'messages_sent'?: (number | string | Long);
  'bytes_received'?: (number | string | Long);
  'bytes_sent'?: (number | string | Long);
  'subscriptions'?: (number);
  'retained'?: (number);
}

/**
 * The answering node's own load, for the dashboard and /api/v1/cluster/members: counters since
 * it started (the caller takes rates) and current sizes. Absent from nodes older than this field.
 */
export interface NodeLoad__Output {
  'connections': (number);
  'messages_received': (string);
  'messages_sent': (string);
  'bytes_received': (string);
  'bytes_sent': (string);
  'subscriptions': (number);
  'retained': (number);
}
