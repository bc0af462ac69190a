// Original file: proto/cluster.proto


export interface TakeoverReceipt {
}

export interface TakeoverReceipt__Output {
}
