// Aedes 1.2 on a plain net server, the Node.js peer of the benchmarks. In-memory persistence
// (Aedes' default), no auth. Usage: node --import tsx bench/peers/aedes-server.ts PORT
import net from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2] ?? 1883);
const broker = await Aedes.createBroker();
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
