// Original file: proto/cluster.proto

import type { SessionSnapshot as _cluster_v1_SessionSnapshot, SessionSnapshot__Output as _cluster_v1_SessionSnapshot__Output } from '../../cluster/v1/SessionSnapshot.js';

/**
 * Old node -> new node.
 */
export interface TakeoverExported {
  /**
   * Another takeover of this id is under way there.
   */
  'busy'?: (boolean);
  /**
   * Absent: no session there, or it was discarded (Clean Start) or ended (expiry 0).
   */
  'session'?: (_cluster_v1_SessionSnapshot | null);
  '_session'?: "session";
}

/**
 * Old node -> new node.
 */
export interface TakeoverExported__Output {
  /**
   * Another takeover of this id is under way there.
   */
  'busy': (boolean);
  /**
   * Absent: no session there, or it was discarded (Clean Start) or ended (expiry 0).
   */
  'session'?: (_cluster_v1_SessionSnapshot__Output | null);
  '_session'?: "session";
}
