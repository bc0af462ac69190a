// Original file: proto/cluster.proto


/**
 * New node -> the client id's owner: lock the id for this takeover.
 */
export interface TakeoverClaim {
}

/**
 * New node -> the client id's owner: lock the id for this takeover.
 */
export interface TakeoverClaim__Output {
}
