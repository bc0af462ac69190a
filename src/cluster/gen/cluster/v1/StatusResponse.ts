// Original file: proto/cluster.proto

import type { MemberStatus as _cluster_v1_MemberStatus, MemberStatus__Output as _cluster_v1_MemberStatus__Output } from '../../cluster/v1/MemberStatus.js';
import type { NodeLoad as _cluster_v1_NodeLoad, NodeLoad__Output as _cluster_v1_NodeLoad__Output } from '../../cluster/v1/NodeLoad.js';
import type { Long } from '@grpc/proto-loader';

export interface StatusResponse {
  'node'?: (string);
  'incarnation'?: (number | string | Long);
  'protocol_version'?: (number);
  'members'?: (_cluster_v1_MemberStatus)[];
  'load'?: (_cluster_v1_NodeLoad | null);
}

export interface StatusResponse__Output {
  'node': (string);
  'incarnation': (string);
  'protocol_version': (number);
  'members': (_cluster_v1_MemberStatus__Output)[];
  'load': (_cluster_v1_NodeLoad__Output | null);
}
