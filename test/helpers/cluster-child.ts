// A Shoal node in a cluster as a child process, for the cluster integration tests and benches:
//   node --import tsx test/helpers/cluster-child.ts '<ClusterChildSpec JSON>'
// Starts the same startNode() as `shoal start`, with the cluster settings given in the spec, and
// writes JSON log lines to stdout ("node.listening" carries the MQTT port). SIGTERM closes it
// gracefully (leaves the gossip); the cluster secret comes from SHOAL_CLUSTER_SECRET.
import { parseConfig } from '../../src/config/options.js';
import { createLogger } from '../../src/log.js';
import { startNode } from '../../src/node.js';
import type { ClusterSettings } from '../../src/cluster/cluster-node.js';

export interface ClusterChildSpec {
  name: string;
  dataDir: string;
  gossipPort: number;
  grpcPort: number;
  seeds: string[];
  logLevel?: string;
  inMemory?: boolean;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as ClusterChildSpec;
const config = parseConfig({ listen: '127.0.0.1:0', dataDir: spec.dataDir, shards: 2, sysIntervalSec: 0, logLevel: spec.logLevel ?? 'debug', nodeName: spec.name }, 'test');
const logger = createLogger(config.logLevel, { destination: process.stdout });
const cluster: ClusterSettings = {
  nodeName: spec.name,
  incarnation: Date.now(),
  gossip: { host: '127.0.0.1', port: spec.gossipPort },
  grpc: { host: '127.0.0.1', port: spec.grpcPort },
  advertiseHost: '127.0.0.1',
  seeds: spec.seeds,
  secret: process.env.SHOAL_CLUSTER_SECRET || undefined,
};
startNode(config, { logger, cluster, inMemory: spec.inMemory ?? false }).then(
  (handle) => {
    logger.info({ event: 'node.listening', nodeName: handle.nodeName, port: handle.mqtt.port }, 'listening');
    process.on('SIGTERM', () => {
      void handle.close('signal').then(() => process.exit(0));
    });
  },
  (err: Error & { code?: string }) => {
    logger.error({ event: 'node.start.failed', code: err.code, err }, err.message);
    process.exit(1);
  },
);
