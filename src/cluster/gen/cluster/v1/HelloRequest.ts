// Original file: proto/cluster.proto

import type { Long } from '@grpc/proto-loader';

export interface HelloRequest {
  'node'?: (string);
  'incarnation'?: (number | string | Long);
  /**
   * Every cluster protocol version the caller speaks (1 for this file).
   */
  'protocol_versions'?: (number)[];
  /**
   * "host:port" the caller serves gRPC on.
   */
  'grpc_address'?: (string);
}

export interface HelloRequest__Output {
  'node': (string);
  'incarnation': (string);
  /**
   * Every cluster protocol version the caller speaks (1 for this file).
   */
  'protocol_versions': (number)[];
  /**
   * "host:port" the caller serves gRPC on.
   */
  'grpc_address': (string);
}
