// Original file: proto/cluster.proto

import type { Long } from '@grpc/proto-loader';

export interface MemberStatus {
  'node'?: (string);
  'incarnation'?: (number | string | Long);
  /**
   * "alive" | "suspect" | "down"
   */
  'state'?: (string);
  'route_count'?: (number);
  'forward_queue_depth'?: (number);
  'grpc_address'?: (string);
  /**
   * "host:port" MQTT clients should use; empty when the member does not advertise one.
   */
  'mqtt_address'?: (string);
  /**
   * The answering node's digest of that member's routes (16 hex digits; "" when it holds none):
   * equal on every node once route replication has converged.
   */
  'route_hash'?: (string);
}

export interface MemberStatus__Output {
  'node': (string);
  'incarnation': (string);
  /**
   * "alive" | "suspect" | "down"
   */
  'state': (string);
  'route_count': (number);
  'forward_queue_depth': (number);
  'grpc_address': (string);
  /**
   * "host:port" MQTT clients should use; empty when the member does not advertise one.
   */
  'mqtt_address': (string);
  /**
   * The answering node's digest of that member's routes (16 hex digits; "" when it holds none):
   * equal on every node once route replication has converged.
   */
  'route_hash': (string);
}
