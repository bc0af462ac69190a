// Original file: proto/cluster.proto

import type { Long } from '@grpc/proto-loader';

export interface Registration {
  'client_id'?: (string);
  /**
   * false: the session ended here (or moved away).
   */
  'present'?: (boolean);
  /**
   * When the session arrived at the sender (epoch ms, its clock; 0: restored from storage).
   * Of two registrations for one client id on two live nodes, the later wins.
   */
  'since_ms'?: (number | string | Long);
}

export interface Registration__Output {
  'client_id': (string);
  /**
   * false: the session ended here (or moved away).
   */
  'present': (boolean);
  /**
   * When the session arrived at the sender (epoch ms, its clock; 0: restored from storage).
   * Of two registrations for one client id on two live nodes, the later wins.
   */
  'since_ms': (string);
}
