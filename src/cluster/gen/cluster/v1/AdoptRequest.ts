// Original file: proto/cluster.proto


export interface AdoptRequest {
  'client_id'?: (string);
}

export interface AdoptRequest__Output {
  'client_id': (string);
}
