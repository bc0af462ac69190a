// Original file: proto/cluster.proto

import type { Registration as _cluster_v1_Registration, Registration__Output as _cluster_v1_Registration__Output } from '../../cluster/v1/Registration.js';

/**
 * Where sessions live, from the node holding them to the owner of their client ids
 * (src/cluster/session-registry.ts): after every membership change a node sends each owner the
 * whole list of its sessions that owner now owns, in batches, the last one `complete`; between
 * changes it sends what starts and ends here.
 */
export interface Registrations {
  /**
   * The live members the sender computed owners with (see viewKey): the owner counts a complete
   * list only when it is for its own view.
   */
  'view'?: (string);
  'entries'?: (_cluster_v1_Registration)[];
  'complete'?: (boolean);
}

/**
 * Where sessions live, from the node holding them to the owner of their client ids
 * (src/cluster/session-registry.ts): after every membership change a node sends each owner the
 * whole list of its sessions that owner now owns, in batches, the last one `complete`; between
 * changes it sends what starts and ends here.
 */
export interface Registrations__Output {
  /**
   * The live members the sender computed owners with (see viewKey): the owner counts a complete
   * list only when it is for its own view.
   */
  'view': (string);
  'entries': (_cluster_v1_Registration__Output)[];
  'complete': (boolean);
}
