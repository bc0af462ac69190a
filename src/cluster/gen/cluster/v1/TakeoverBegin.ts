// Original file: proto/cluster.proto


/**
 * New node -> old node: close the connection (0x8E), export the session (or discard it).
 */
export interface TakeoverBegin {
  'clean_start'?: (boolean);
}

/**
 * New node -> old node: close the connection (0x8E), export the session (or discard it).
 */
export interface TakeoverBegin__Output {
  'clean_start': (boolean);
}
