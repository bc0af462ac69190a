// The server side of TLS (--tls, --wss): reads --tls-cert, --tls-key and --tls-ca, checks that
// they make a usable context (PEM that parses, a key that matches the certificate) and describes
// the certificate for the log. At startup a failure is a configuration error (exit 2); on SIGHUP
// the caller keeps the old credentials and logs it.
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { TlsFiles } from '../config/transport-options.js';
import { TlsCredentialsError } from './errors.js';

export interface TlsCredentials {
  /** What tls.createServer / server.setSecureContext take (cert, key, ca). */
  readonly context: tls.SecureContextOptions;
  /** The leaf certificate, for log lines and tests. */
  readonly certificate: CertificateSummary;
}

export interface CertificateSummary {
  readonly subject: string;
  readonly issuer: string;
  /** Hex, upper case, as openssl x509 -serial prints it. */
  readonly serialNumber: string;
  readonly validFrom: string;
  readonly validTo: string;
  readonly fingerprint256: string;
}

function readPem(what: string, flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new TlsCredentialsError(`cannot read the ${what} ${flag} ${path}: ${code}; check the path and that the broker's user may read it`, flag, path, err);
  }
}

/** The first certificate of a PEM file: the leaf of --tls-cert, any CA of --tls-ca. */
function firstCertificate(pem: Buffer, flag: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new TlsCredentialsError(`${flag} ${path} holds no PEM certificate: ${(err as Error).message}`, flag, path, err);
  }
}

function summarize(cert: X509Certificate): CertificateSummary {
  return {
    subject: cert.subject.replace(/\n/g, ', '),
    issuer: cert.issuer.replace(/\n/g, ', '),
    serialNumber: cert.serialNumber.toUpperCase(),
    validFrom: cert.validFrom,
    validTo: cert.validTo,
    fingerprint256: cert.fingerprint256,
  };
}

/** Reads and checks the files. Throws TlsCredentialsError naming the file and what is wrong. */
export function loadTlsCredentials(files: TlsFiles): TlsCredentials {
  const cert = readPem('certificate', '--tls-cert', files.cert);
  const key = readPem('private key', '--tls-key', files.key);
  const ca = files.ca === null ? undefined : readPem('CA bundle', '--tls-ca', files.ca);
  const certificate = summarize(firstCertificate(cert, '--tls-cert', files.cert));
  // An unreadable CA bundle would otherwise be ignored, and every client certificate refused.
  if (ca !== undefined) firstCertificate(ca, '--tls-ca', files.ca!);
  const context: tls.SecureContextOptions = ca === undefined ? { cert, key } : { cert, key, ca };
  try {
    // The context the listeners will build from the same options: a key that does not match the
    // certificate, or a file that is not PEM, fails here rather than in every handshake.
    tls.createSecureContext(context);
  } catch (err) {
    const named = `--tls-cert ${files.cert}, --tls-key ${files.key}${files.ca === null ? '' : `, --tls-ca ${files.ca}`}`;
    throw new TlsCredentialsError(`cannot use ${named}: ${(err as Error).message} (is the key the certificate's, and each file PEM?)`, '--tls-key', files.key, err);
  }
  return { context, certificate };
}
