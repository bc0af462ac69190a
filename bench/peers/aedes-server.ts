// Aedes 1.2 on a plain net server, the Node.js peer of the benchmarks, no auth.
// Usage: node --import tsx bench/peers/aedes-server.ts PORT [LEVELDB_DIR]
// - Without LEVELDB_DIR: in-memory persistence (Aedes' default), the `aedes` peer.
// - With it: aedes-persistence-level on classic-level (LevelDB), the `aedes-level` peer. Offline
//   queues, retained messages and subscriptions then go to disk, as Shoal's go to SQLite. LevelDB
//   writes each batch to its log with write() and no fsync (its default), so what it stored
//   survives the process dying, like Shoal's synchronous=NORMAL. One difference remains, and it
//   is Aedes' design: it writes a QoS 1 PUBACK before it stores or routes the message
//   (lib/handlers/publish.js), where Shoal commits first.
import { createRequire } from 'node:module';
import net from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';

const port = Number(process.argv[2] ?? 1883);
const levelDir = process.argv[3];
const options: AedesOptions = {};
if (levelDir !== undefined) {
  // aedes-persistence-level ships no types; the broker only needs the object it returns.
  const require = createRequire(import.meta.url);
  const persistence = require('aedes-persistence-level') as (db: unknown) => AedesOptions['persistence'];
  const { ClassicLevel } = await import('classic-level');
  options.persistence = persistence(new ClassicLevel(levelDir));
}
const broker = await Aedes.createBroker(options);
// noDelay as in Shoal and Mosquitto's config (set_tcp_nodelay), so loopback latency compares like for like.
const server = net.createServer({ noDelay: true }, broker.handle);
server.listen(port, '127.0.0.1');
const stop = (): void => {
  server.close();
  broker.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
