// Original file: proto/cluster.proto


export interface StatusRequest {
}

export interface StatusRequest__Output {
}
