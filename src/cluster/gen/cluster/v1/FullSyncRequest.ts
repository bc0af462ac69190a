// Original file: proto/cluster.proto


export interface FullSyncRequest {
  'origin'?: (string);
}

export interface FullSyncRequest__Output {
  'origin': (string);
}
