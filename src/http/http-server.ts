// The node's HTTP listener (node:http, no framework): Prometheus /metrics, the admin API
// (/api/v1/...), /health, /ready and the dashboard's static files. It binds before the node
// loads its storage, so a busy port fails startup before anything opens, and /health answers
// while storage loads; until attach() hands it the node, /ready says 503 and the API 503.
// With a token, every request but /health, /ready and the dashboard's own files must carry
// `Authorization: Bearer <token>`.
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Registry } from 'prom-client';
import type { Secret } from '../config/secret.js';
import { formatListen, type ListenAddress } from '../config/field-kinds.js';
import type { Logger } from '../log.js';
import { createRegistry } from '../metrics/prometheus.js';
import { answerApi } from './admin-api.js';
import type { AdminSource } from './admin-source.js';
import { dashboardFile, loadDashboard, type DashboardFiles } from './dashboard-files.js';
import { HttpError, HttpListenError } from './http-errors.js';

/** Requests that take longer (a stuck peer Status call) are cut off. */
const REQUEST_TIMEOUT_MS = 10_000;
/** The API reads no request bodies; a client that sends one is not waited for. */
const HEADERS_TIMEOUT_MS = 5_000;

export interface HttpServerOptions {
  listen: ListenAddress;
  token: Secret | null;
  nodeName: string;
  log: Logger;
}

export interface HttpServer {
  /** The bound address (the real port when 0 was asked for). */
  readonly address: { host: string; port: number };
  /** Hands over the node: the API, /metrics and /ready answer from now on. */
  attach(source: AdminSource): void;
  close(): Promise<void>;
}

/** Paths served without the token: liveness probes and the dashboard's code, which holds no data. */
function isPublic(path: string): boolean {
  return path === '/health' || path === '/ready' || dashboardFile(path) !== null;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const expected = opts.token === null ? null : digest(opts.token.reveal());
  const dashboard: DashboardFiles = loadDashboard();
  let source: AdminSource | null = null;
  let registry: Registry | null = null;

  const authorized = (req: http.IncomingMessage): boolean => {
    if (expected === null) return true;
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    // Compared as digests: equal length, constant time, whatever the caller sent.
    return match !== null && timingSafeEqual(digest(match[1]!), expected);
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (!isPublic(path) && !authorized(req)) {
      throw new HttpError(401, 'unauthorized', 'missing or wrong bearer token: send "Authorization: Bearer <token>" with the --http-token of this node', { 'WWW-Authenticate': 'Bearer realm="shoal"' });
    }
    const file = dashboardFile(path);
    if (file !== null) {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}; allowed: GET, HEAD`, { Allow: 'GET, HEAD' });
      const body = dashboard.get(file);
      if (body === undefined) throw new HttpError(404, 'dashboard_missing', `the dashboard file ${file} was not found next to this installation (the package ships dashboard/); reinstall`);
      // The page loads nothing from elsewhere (no CDN); the browser is told to refuse it too.
      res.setHeader('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
      send(res, 200, body.type, body.bytes, method);
      return;
    }
    if (source === null) {
      if (path === '/health') return sendJson(res, 200, { status: 'starting', node: opts.nodeName }, method);
      throw new HttpError(503, 'starting', `node ${opts.nodeName} is starting (loading storage, joining); try again shortly`);
    }
    if (path === '/metrics') {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'method_not_allowed', `${method} is not allowed on /metrics; allowed: GET, HEAD`, { Allow: 'GET, HEAD' });
      registry ??= createRegistry(source);
      send(res, 200, registry.contentType, Buffer.from(await registry.metrics()), method);
      return;
    }
    const answer = await answerApi(source, method, path, url.searchParams);
    if (answer === null) throw new HttpError(404, 'not_found', `no such endpoint: ${path}; see docs/operations/metrics-admin.md`);
    sendJson(res, answer.status, answer.body, method);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
        sendJson(res, err.status, { error: { code: err.code, message: err.message } }, req.method ?? 'GET');
        return;
      }
      opts.log.error({ event: 'http.request.failed', method: req.method, url: req.url, err }, 'HTTP request failed');
      sendJson(res, 500, { error: { code: 'internal', message: err instanceof Error ? err.message : String(err) } }, req.method ?? 'GET');
    });
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(new HttpListenError(formatListen(opts.listen), err.code, err));
    server.once('error', onError);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => opts.log.error({ event: 'http.server.error', err }, 'HTTP server error'));
  const bound = server.address() as import('node:net').AddressInfo;
  const address = { host: bound.address, port: bound.port };
  opts.log.info({ event: 'http.listening', host: address.host, port: address.port, address: formatListen(address), token: expected !== null }, 'HTTP listening (metrics, admin API, dashboard)');
  let closed: Promise<void> | null = null;
  return {
    address,
    attach(s) {
      source = s;
      // Now, not at the first scrape: the event-loop lag histogram samples from here on.
      registry = createRegistry(s);
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections (a dashboard polling) would hold close() open.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function send(res: http.ServerResponse, status: number, type: string, body: Buffer, method: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': body.byteLength, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(method === 'HEAD' ? undefined : body);
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, method: string): void {
  send(res, status, 'application/json; charset=utf-8', Buffer.from(JSON.stringify(body)), method);
}
