// Original file: proto/cluster.proto


export interface RetainedSnapshotRequest {
  /**
   * Largest batch the caller wants per stream message; 0: the callee's default.
   */
  'max_batch'?: (number);
}

export interface RetainedSnapshotRequest__Output {
  /**
   * Largest batch the caller wants per stream message; 0: the callee's default.
   */
  'max_batch': (number);
}
