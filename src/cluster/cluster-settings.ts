// What a node needs to join a cluster, taken from its configuration once (the --seeds, --gossip,
// --grpc, --advertise, --cluster-secret and --cluster-tls-* flags). Kept apart from
// cluster-node.ts so a single node decides it runs alone without loading gRPC or swim.
import type { ShoalConfig } from '../config/options.js';
import type { GossipTimings } from './membership.js';

export interface ClusterSettings {
  readonly nodeName: string;
  /** Start epoch ms of this process (a restart gets a larger one). */
  readonly incarnation: number;
  readonly gossip: { readonly host: string; readonly port: number };
  readonly grpc: { readonly host: string; readonly port: number };
  /** The host peers reach this node at (gossip and gRPC). */
  readonly advertiseHost: string;
  readonly seeds: readonly string[];
  readonly secret: string | undefined;
  readonly tls?: { readonly certPath: string; readonly keyPath: string; readonly caPath: string };
  readonly gossipTimings?: Partial<GossipTimings>;
  /** --takeover-timeout: each step of a cross-node takeover (see takeoverTimings). */
  readonly takeoverStepMs: number;
}

/** The cluster settings of `config`, or null when it names no seeds (the node runs alone). */
export function clusterSettingsFrom(config: ShoalConfig, incarnation: number): ClusterSettings | null {
  if (config.seeds.length === 0) return null;
  const { clusterTlsCert: certPath, clusterTlsKey: keyPath, clusterTlsCa: caPath } = config;
  return {
    nodeName: config.nodeName,
    incarnation,
    gossip: config.gossip,
    grpc: config.grpc,
    advertiseHost: config.advertise,
    seeds: config.seeds,
    secret: config.clusterSecret?.reveal(),
    takeoverStepMs: config.takeoverTimeoutMs,
    // The options layer accepts all three TLS files or none.
    ...(certPath !== null && keyPath !== null && caPath !== null ? { tls: { certPath, keyPath, caPath } } : {}),
  };
}
