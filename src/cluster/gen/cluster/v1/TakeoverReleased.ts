// Original file: proto/cluster.proto


/**
 * Owner -> new node: the release arrived (the new node stops resending it).
 */
export interface TakeoverReleased {
}

/**
 * Owner -> new node: the release arrived (the new node stops resending it).
 */
export interface TakeoverReleased__Output {
}
