// Original file: proto/cluster.proto

import type { SessionMessage as _cluster_v1_SessionMessage, SessionMessage__Output as _cluster_v1_SessionMessage__Output } from '../../cluster/v1/SessionMessage.js';

export interface SessionWill {
  'message'?: (_cluster_v1_SessionMessage | null);
  'delay_sec'?: (number);
  'message_expiry_sec'?: (number);
  '_message_expiry_sec'?: "message_expiry_sec";
}

export interface SessionWill__Output {
  'message': (_cluster_v1_SessionMessage__Output | null);
  'delay_sec': (number);
  'message_expiry_sec'?: (number);
  '_message_expiry_sec'?: "message_expiry_sec";
}
