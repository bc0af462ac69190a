// Original file: proto/cluster.proto


/**
 * New node -> old node: installed; hand over and drop your copy.
 */
export interface TakeoverEnd {
}

/**
 * New node -> old node: installed; hand over and drop your copy.
 */
export interface TakeoverEnd__Output {
}
