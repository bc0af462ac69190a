// Original file: proto/cluster.proto

import type { ForwardStatus as _cluster_v1_ForwardStatus, ForwardStatus__Output as _cluster_v1_ForwardStatus__Output } from '../../cluster/v1/ForwardStatus.js';
import type { Long } from '@grpc/proto-loader';

export interface ForwardAck {
  'ack_id'?: (number | string | Long);
  'status'?: (_cluster_v1_ForwardStatus);
}

export interface ForwardAck__Output {
  'ack_id': (string);
  'status': (_cluster_v1_ForwardStatus__Output);
}
