// Original file: proto/cluster.proto

import type { TakeoverClaim as _cluster_v1_TakeoverClaim, TakeoverClaim__Output as _cluster_v1_TakeoverClaim__Output } from '../../cluster/v1/TakeoverClaim.js';
import type { TakeoverClaimed as _cluster_v1_TakeoverClaimed, TakeoverClaimed__Output as _cluster_v1_TakeoverClaimed__Output } from '../../cluster/v1/TakeoverClaimed.js';
import type { TakeoverRelease as _cluster_v1_TakeoverRelease, TakeoverRelease__Output as _cluster_v1_TakeoverRelease__Output } from '../../cluster/v1/TakeoverRelease.js';
import type { TakeoverBegin as _cluster_v1_TakeoverBegin, TakeoverBegin__Output as _cluster_v1_TakeoverBegin__Output } from '../../cluster/v1/TakeoverBegin.js';
import type { TakeoverExported as _cluster_v1_TakeoverExported, TakeoverExported__Output as _cluster_v1_TakeoverExported__Output } from '../../cluster/v1/TakeoverExported.js';
import type { TakeoverEnd as _cluster_v1_TakeoverEnd, TakeoverEnd__Output as _cluster_v1_TakeoverEnd__Output } from '../../cluster/v1/TakeoverEnd.js';
import type { TakeoverEnded as _cluster_v1_TakeoverEnded, TakeoverEnded__Output as _cluster_v1_TakeoverEnded__Output } from '../../cluster/v1/TakeoverEnded.js';
import type { TakeoverAbort as _cluster_v1_TakeoverAbort, TakeoverAbort__Output as _cluster_v1_TakeoverAbort__Output } from '../../cluster/v1/TakeoverAbort.js';
import type { TakeoverReleased as _cluster_v1_TakeoverReleased, TakeoverReleased__Output as _cluster_v1_TakeoverReleased__Output } from '../../cluster/v1/TakeoverReleased.js';

export interface TakeoverMessage {
  /**
   * Names one takeover cluster-wide (claimant node, incarnation, counter).
   */
  'id'?: (string);
  'client_id'?: (string);
  /**
   * The sending node (also in the call metadata; here so a relayed message keeps it).
   */
  'from'?: (string);
  'claim'?: (_cluster_v1_TakeoverClaim | null);
  'claimed'?: (_cluster_v1_TakeoverClaimed | null);
  'release'?: (_cluster_v1_TakeoverRelease | null);
  'begin'?: (_cluster_v1_TakeoverBegin | null);
  'exported'?: (_cluster_v1_TakeoverExported | null);
  'end'?: (_cluster_v1_TakeoverEnd | null);
  'ended'?: (_cluster_v1_TakeoverEnded | null);
  'abort'?: (_cluster_v1_TakeoverAbort | null);
  'released'?: (_cluster_v1_TakeoverReleased | null);
  'body'?: "claim"|"claimed"|"release"|"begin"|"exported"|"end"|"ended"|"abort"|"released";
}

export interface TakeoverMessage__Output {
  /**
   * Names one takeover cluster-wide (claimant node, incarnation, counter).
   */
  'id': (string);
  'client_id': (string);
  /**
   * The sending node (also in the call metadata; here so a relayed message keeps it).
   */
  'from': (string);
  'claim'?: (_cluster_v1_TakeoverClaim__Output | null);
  'claimed'?: (_cluster_v1_TakeoverClaimed__Output | null);
  'release'?: (_cluster_v1_TakeoverRelease__Output | null);
  'begin'?: (_cluster_v1_TakeoverBegin__Output | null);
  'exported'?: (_cluster_v1_TakeoverExported__Output | null);
  'end'?: (_cluster_v1_TakeoverEnd__Output | null);
  'ended'?: (_cluster_v1_TakeoverEnded__Output | null);
  'abort'?: (_cluster_v1_TakeoverAbort__Output | null);
  'released'?: (_cluster_v1_TakeoverReleased__Output | null);
  'body'?: "claim"|"claimed"|"release"|"begin"|"exported"|"end"|"ended"|"abort"|"released";
}
