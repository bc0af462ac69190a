// Original file: proto/cluster.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Changes to one origin's routes. Only the origin writes its own routes; receivers apply deltas
 * of an incarnation in sequence order (seq = previous seq + 1) and ask for a FullSync on a gap.
 * A filter is as subscribed: a shared subscription is the entry "$share/{group}/{filter}", so one
 * string names both the group and its filter, as in the local router.
 */
export interface RouteDelta {
  'origin'?: (string);
  'incarnation'?: (number | string | Long);
  'seq'?: (number | string | Long);
  'adds'?: (string)[];
  'removes'?: (string)[];
}

/**
 * Changes to one origin's routes. Only the origin writes its own routes; receivers apply deltas
 * of an incarnation in sequence order (seq = previous seq + 1) and ask for a FullSync on a gap.
 * A filter is as subscribed: a shared subscription is the entry "$share/{group}/{filter}", so one
 * string names both the group and its filter, as in the local router.
 */
export interface RouteDelta__Output {
  'origin': (string);
  'incarnation': (string);
  'seq': (string);
  'adds': (string)[];
  'removes': (string)[];
}
