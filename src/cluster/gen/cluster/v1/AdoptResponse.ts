// Original file: proto/cluster.proto


export interface AdoptResponse {
  /**
   * True: the session lives on the callee now. False with an empty detail: there was none to move.
   */
  'moved'?: (boolean);
  /**
   * Why it did not move (the takeover's refusal), empty when it did or when there was nothing.
   */
  'detail'?: (string);
}

export interface AdoptResponse__Output {
  /**
   * True: the session lives on the callee now. False with an empty detail: there was none to move.
   */
  'moved': (boolean);
  /**
   * Why it did not move (the takeover's refusal), empty when it did or when there was nothing.
   */
  'detail': (string);
}
