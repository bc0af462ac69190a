// The optional listeners beside plain TCP (--tls, --ws, --wss): starts those configured, swaps
// their certificate on reload (SIGHUP) and closes them. Each hands its streams to the same
// handler as TCP; nothing here is on the per-packet path.
import type { ShoalConfig } from '../config/options.js';
import { tlsFilesOf, type TlsFiles } from '../config/transport-options.js';
import type { Logger } from '../log.js';
import type { StreamHandler, TcpListener } from './tcp-listener.js';
import { loadTlsCredentials, type CertificateSummary, type TlsCredentials } from './tls-credentials.js';
import { listenTls, type TlsListener, type TlsServerSettings } from './tls-listener.js';
import { listenWebSocket, type WsListenerSettings } from './ws-listener.js';

export type ListenAddresses = { [K in 'tls' | 'ws' | 'wss']: { host: string; port: number } | null };

export type ReloadResult = { ok: true; certificate: CertificateSummary } | { ok: false; error: string };

export interface ListenerSet {
  readonly addresses: ListenAddresses;
  /**
   * Rereads --tls-cert, --tls-key and --tls-ca. New handshakes use them; open connections keep
   * what they have. A file that cannot be read or used leaves the old ones in force.
   */
  reloadCertificates(): ReloadResult | null;
  close(): Promise<void>;
}

/**
 * Starts the listeners `config` enables. `credentials` are the ones main.ts already checked
 * (loaded here when absent, as in tests).
 */
export async function startListenerSet(config: ShoalConfig, onStream: StreamHandler, log: Logger, credentials?: TlsCredentials): Promise<ListenerSet> {
  const files = tlsFilesOf(config);
  let current = credentials ?? (files === null ? null : loadTlsCredentials(files));
  const secured: TlsListener[] = [];
  const all: TcpListener[] = [];
  const addresses: ListenAddresses = { tls: null, ws: null, wss: null };
  const tlsSettings = (f: TlsFiles): TlsServerSettings => ({ files: f, handshakeTimeoutMs: config.connectTimeoutMs });
  const started = (kind: keyof ListenAddresses, listener: TcpListener): void => {
    all.push(listener);
    addresses[kind] = listener.address;
    log.info({ event: 'transport.listening', transport: kind, host: listener.address.host, port: listener.address.port }, `listening for MQTT over ${kind}`);
  };
  const ws = (tls: WsListenerSettings['tls']): WsListenerSettings => ({ maxPacketSize: config.maxPacketSize, handshakeTimeoutMs: config.connectTimeoutMs, tls });
  try {
    // tlsFilesOf is non-null exactly when --tls or --wss is on.
    if (files !== null && current !== null) {
      log.info({ event: 'tls.certificate', file: files.cert, ...current.certificate, requireClientCert: files.requireClientCert, cnAsUsername: files.cnAsUsername }, 'TLS certificate loaded');
      if (config.tls !== null) {
        const l = await listenTls(config.tls, tlsSettings(files), current, onStream, log);
        secured.push(l);
        started('tls', l);
      }
      if (config.wss !== null) {
        const l = (await listenWebSocket(config.wss, ws({ settings: tlsSettings(files), credentials: current }), onStream, log)) as TlsListener;
        secured.push(l);
        started('wss', l);
      }
    }
    if (config.ws !== null) started('ws', await listenWebSocket(config.ws, ws(null), onStream, log));
  } catch (err) {
    await Promise.all(all.map((l) => l.close()));
    throw err;
  }
  return {
    addresses,
    reloadCertificates() {
      if (files === null) return null;
      let next: TlsCredentials;
      try {
        next = loadTlsCredentials(files);
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err);
        log.error({ event: 'tls.reload.failed', err: error, serialNumber: current?.certificate.serialNumber }, 'TLS certificate reload failed; the previous certificate stays in use');
        return { ok: false, error };
      }
      for (const l of secured) l.setCredentials(next);
      log.info({ event: 'tls.reload.done', file: files.cert, ...next.certificate, previousSerialNumber: current?.certificate.serialNumber }, 'TLS certificate reloaded; new handshakes use it');
      current = next;
      return { ok: true, certificate: next.certificate };
    },
    close: async () => {
      await Promise.all(all.map((l) => l.close()));
    },
  };
}
