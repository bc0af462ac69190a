// Entry point of one shard worker thread: a long-running piscina task that hosts one Shard and
// talks to the main thread over the MessagePort it was handed (../shared/STACK.md: one host
// task per thread, all traffic over the port).
import type { MessagePort } from 'node:worker_threads';
import { hostShard } from './shard-host.js';
import type { FromShard, ShardInit, ToShard } from './shard-protocol.js';

export interface ShardTask extends ShardInit {
  port: MessagePort;
}

export default function runShard(task: ShardTask): Promise<string> {
  const { port } = task;
  return hostShard(task, {
    post: (m: FromShard) => port.postMessage(m),
    onBatch: (handler) => port.on('message', (batch: ToShard[]) => handler(batch)),
    close: () => port.close(),
  });
}
