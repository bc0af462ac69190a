// Original file: proto/cluster.proto


/**
 * New node -> owner: the takeover is over; where the session lives now (empty: unchanged).
 */
export interface TakeoverRelease {
  'location'?: (string);
}

/**
 * New node -> owner: the takeover is over; where the session lives now (empty: unchanged).
 */
export interface TakeoverRelease__Output {
  'location': (string);
}
