// Original file: proto/cluster.proto


/**
 * Owner -> new node.
 */
export interface TakeoverClaimed {
  'granted'?: (boolean);
  /**
   * The node the owner's registry says holds the session; empty: none known.
   */
  'holder'?: (string);
}

/**
 * Owner -> new node.
 */
export interface TakeoverClaimed__Output {
  'granted': (boolean);
  /**
   * The node the owner's registry says holds the session; empty: none known.
   */
  'holder': (string);
}
