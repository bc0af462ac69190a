// The public API for embedding a Shoal node in a Node.js program:
//   const node = await startNode(parseConfig({ listen: '127.0.0.1:1883', dataDir: './data' }, 'app'));
//   node.events.on('client.connected', ...); await node.close();
export { startNode, VERSION, type NodeHandle, type NodeEvents, type StartOptions } from './node.js';
export { parseConfig, defaultConfig, type ShoalConfig } from './config/options.js';
export { loadConfig } from './config/load.js';
export { ConfigError } from './config/errors.js';
export { createLogger, type Logger } from './log.js';
export type { AppMessage, QoS, SubscriptionOptions } from './protocol/message.js';
export type { BrokerStats } from './broker/sys-topics.js';
export { ReasonCode } from './protocol/reason-codes.js';
