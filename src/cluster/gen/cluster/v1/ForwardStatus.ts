// Original file: proto/cluster.proto

export const ForwardStatus = {
  FORWARD_STATUS_UNSPECIFIED: 'FORWARD_STATUS_UNSPECIFIED',
  /**
   * Every copy for a persistent session is stored (or there was none).
   */
  FORWARD_STATUS_STORED: 'FORWARD_STATUS_STORED',
  /**
   * The receiver could not take the message (shutting down, overloaded); the sender decides.
   */
  FORWARD_STATUS_REFUSED: 'FORWARD_STATUS_REFUSED',
  /**
   * A shared group named for this node has no member here any more; the sender picks another.
   */
  FORWARD_STATUS_NO_MEMBER: 'FORWARD_STATUS_NO_MEMBER',
} as const;

export type ForwardStatus =
  | 'FORWARD_STATUS_UNSPECIFIED'
  | 0
  /**
   * Every copy for a persistent session is stored (or there was none).
   */
  | 'FORWARD_STATUS_STORED'
  | 1
  /**
   * The receiver could not take the message (shutting down, overloaded); the sender decides.
   */
  | 'FORWARD_STATUS_REFUSED'
  | 2
  /**
   * A shared group named for this node has no member here any more; the sender picks another.
   */
  | 'FORWARD_STATUS_NO_MEMBER'
  | 3

export type ForwardStatus__Output = typeof ForwardStatus[keyof typeof ForwardStatus]
