// Original file: proto/cluster.proto

import type { Long } from '@grpc/proto-loader';

/**
 * New node -> owner: the takeover is over; where the session lives now (empty: unchanged).
 * Resent until the owner answers TakeoverReleased (a lost release would leave a stale location).
 */
export interface TakeoverRelease {
  'location'?: (string);
  /**
   * The new node's clock when the session arrived there (as Registration.since_ms): orders a
   * late release against later registrations of the id.
   */
  'since_ms'?: (number | string | Long);
}

/**
 * New node -> owner: the takeover is over; where the session lives now (empty: unchanged).
 * Resent until the owner answers TakeoverReleased (a lost release would leave a stale location).
 */
export interface TakeoverRelease__Output {
  'location': (string);
  /**
   * The new node's clock when the session arrived there (as Registration.since_ms): orders a
   * late release against later registrations of the id.
   */
  'since_ms': (string);
}
