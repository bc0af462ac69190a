// The admin API's handlers (JSON), /health and /ready: each takes the request's method, path and
// query and returns a status and a body, or throws an HttpError. No sockets here: the server
// (http-server.ts) does the I/O, authentication and error formatting.
import type { AdminSource, ClientInfo, RouteInfo } from './admin-source.js';
import { HttpError } from './http-errors.js';
import { pageRequest, paginate } from './paging.js';
import { readiness } from './readiness.js';

export interface ApiAnswer {
  status: number;
  body: unknown;
}

/** Top topics the dashboard shows at most. */
const MAX_TOP_TOPICS = 100;

const CLIENTS_PREFIX = '/api/v1/clients/';

function methodNotAllowed(method: string, path: string, allowed: string): HttpError {
  return new HttpError(405, 'method_not_allowed', `${method} is not allowed on ${path}; allowed: ${allowed}`, { Allow: allowed });
}

function onlyGet(method: string, path: string): void {
  if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(method, path, 'GET, HEAD');
}

/** Single-node routes: this node's distinct filters. */
function localRoutes(source: AdminSource): RouteInfo[] {
  return source.localFilters().map((filter) => ({ filter, nodes: [source.nodeName] }));
}

function clientsMatching(source: AdminSource, q: URLSearchParams): ClientInfo[] {
  const prefix = q.get('clientId') ?? '';
  const username = q.get('username');
  const node = q.get('node');
  const connected = q.get('connected');
  if (connected !== null && connected !== 'true' && connected !== 'false') {
    throw new HttpError(400, 'bad_request', `invalid connected ${JSON.stringify(connected)}: true or false`);
  }
  return source.clients().filter(
    (c) =>
      c.clientId.startsWith(prefix) &&
      (username === null || c.username === username) &&
      (node === null || c.node === node) &&
      (connected === null || String(c.connected) === connected),
  );
}

/** Answers `method path?query`, or null when no API route matches (the caller tries the others). */
export async function answerApi(source: AdminSource, method: string, path: string, q: URLSearchParams): Promise<ApiAnswer | null> {
  if (path.startsWith(CLIENTS_PREFIX)) {
    let clientId: string;
    try {
      clientId = decodeURIComponent(path.slice(CLIENTS_PREFIX.length));
    } catch {
      throw new HttpError(400, 'bad_request', 'the client id in the path is not valid percent-encoding');
    }
    if (clientId === '') throw new HttpError(404, 'not_found', 'no client id after /api/v1/clients/');
    const found = source.client(clientId);
    if (method === 'DELETE') {
      if (found === null) throw new HttpError(404, 'client_not_found', `no client ${JSON.stringify(clientId)} on node ${source.nodeName}`);
      if (!source.kick(clientId)) throw new HttpError(409, 'client_not_connected', `client ${JSON.stringify(clientId)} has a session on node ${source.nodeName} but no connection to close`);
      return { status: 200, body: { clientId, node: source.nodeName, disconnected: true, reasonCode: 0x98 } };
    }
    if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed(method, path, 'GET, HEAD, DELETE');
    if (found === null) throw new HttpError(404, 'client_not_found', `no client ${JSON.stringify(clientId)} on node ${source.nodeName}`);
    return { status: 200, body: found };
  }
  switch (path) {
    case '/api/v1/clients':
      onlyGet(method, path);
      return { status: 200, body: paginate(clientsMatching(source, q), (c) => c.clientId, pageRequest(q)) };
    case '/api/v1/subscriptions': {
      onlyGet(method, path);
      const clientId = q.get('clientId');
      const subs = source.subscriptions().filter((s) => clientId === null || s.clientId === clientId);
      return { status: 200, body: paginate(subs, (s) => `${s.clientId}\u0000${s.filter}`, pageRequest(q)) };
    }
    case '/api/v1/routes':
      onlyGet(method, path);
      return { status: 200, body: paginate(source.cluster?.routeList() ?? localRoutes(source), (r) => r.filter, pageRequest(q)) };
    case '/api/v1/retained': {
      onlyGet(method, path);
      const prefix = q.get('topic') ?? '';
      return { status: 200, body: paginate(source.retained().filter((r) => r.topic.startsWith(prefix)), (r) => r.topic, pageRequest(q)) };
    }
    case '/api/v1/cluster/members': {
      onlyGet(method, path);
      const members = source.cluster === null
        ? [{ node: source.nodeName, state: 'alive', self: true, incarnation: null, grpcAddress: null, routes: source.localFilters().length, forwardQueueDepth: 0, load: source.load() }]
        : await source.cluster.members();
      return { status: 200, body: { clustered: source.cluster !== null, data: members } };
    }
    case '/api/v1/node': {
      onlyGet(method, path);
      const topText = q.get('top') ?? '10';
      if (!/^\d{1,3}$/.test(topText) || Number(topText) > MAX_TOP_TOPICS) throw new HttpError(400, 'bad_request', `invalid top ${JSON.stringify(topText)}: an integer 0..${MAX_TOP_TOPICS}`);
      return {
        status: 200,
        body: { node: source.nodeName, clustered: source.cluster !== null, startedAt: new Date(source.startedAt).toISOString(), load: source.load(), topTopics: source.topTopics(Number(topText)) },
      };
    }
    case '/health':
      onlyGet(method, path);
      return { status: 200, body: { status: 'ok', node: source.nodeName } };
    case '/ready': {
      onlyGet(method, path);
      const r = readiness(source);
      return { status: r.ready ? 200 : 503, body: { ready: r.ready, node: source.nodeName, checks: r.checks, waitingFor: r.waitingFor } };
    }
    default:
      return null;
  }
}
