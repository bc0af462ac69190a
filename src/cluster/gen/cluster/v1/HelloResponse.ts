// Original file: proto/cluster.proto

import type { Long } from '@grpc/proto-loader';

export interface HelloResponse {
  'node'?: (string);
  'incarnation'?: (number | string | Long);
  'protocol_versions'?: (number)[];
  /**
   * The highest version both sides speak; 0 when there is none (the caller must not go on).
   */
  'chosen_version'?: (number);
}

export interface HelloResponse__Output {
  'node': (string);
  'incarnation': (string);
  'protocol_versions': (number)[];
  /**
   * The highest version both sides speak; 0 when there is none (the caller must not go on).
   */
  'chosen_version': (number);
}
