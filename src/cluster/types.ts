/** One node of the cluster as membership knows it. `incarnation` is the node's start epoch (ms since 1970), so a
 * restarted node has a larger one; routes and calls of an older incarnation are stale. */
export interface MemberInfo {
  readonly name: string;          // --node-name, unique in the cluster
  readonly incarnation: number;   // start epoch ms
  readonly grpcAddress: string;   // "host:port" peers dial for gRPC
  readonly protocolVersion: number; // cluster protocol version (CLUSTER_PROTOCOL_VERSION = 1)
  /** "host:port" MQTT clients should use for this node (a draining node's v5 Server Reference);
   * absent from nodes that do not advertise one (older versions). */
  readonly mqttAddress?: string;
}
export type MemberState = 'alive' | 'suspect' | 'down';
export interface MembershipEvents {
  up: [MemberInfo]; suspect: [MemberInfo]; down: [MemberInfo]; updated: [MemberInfo];
}
/** What the rest of the cluster code needs of membership; the SWIM module and the simulator both implement it. */
export interface MembershipSource {
  readonly self: MemberInfo;
  members(): ReadonlyArray<{ info: MemberInfo; state: MemberState }>; // others, not self
  on<E extends keyof MembershipEvents>(event: E, listener: (...args: MembershipEvents[E]) => void): this;
  off<E extends keyof MembershipEvents>(event: E, listener: (...args: MembershipEvents[E]) => void): this;
}
export const CLUSTER_PROTOCOL_VERSION = 1;
