// Original file: proto/cluster.proto

import type { MemberStatus as _cluster_v1_MemberStatus, MemberStatus__Output as _cluster_v1_MemberStatus__Output } from '../../cluster/v1/MemberStatus.js';
import type { Long } from '@grpc/proto-loader';

export interface StatusResponse {
  'node'?: (string);
  'incarnation'?: (number | string | Long);
  'protocol_version'?: (number);
  'members'?: (_cluster_v1_MemberStatus)[];
}

export interface StatusResponse__Output {
  'node': (string);
  'incarnation': (string);
  'protocol_version': (number);
  'members': (_cluster_v1_MemberStatus__Output)[];
}
