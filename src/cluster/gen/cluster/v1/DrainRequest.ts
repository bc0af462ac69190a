// Original file: proto/cluster.proto


export interface DrainRequest {
}

export interface DrainRequest__Output {
}
