// Original file: proto/cluster.proto


/**
 * New node -> old node: give up; keep (take back) the session.
 */
export interface TakeoverAbort {
}

/**
 * New node -> old node: give up; keep (take back) the session.
 */
export interface TakeoverAbort__Output {
}
