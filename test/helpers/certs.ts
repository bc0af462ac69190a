// Test certificates made with the openssl command line into a temp directory: a CA, server
// certificates for 127.0.0.1/localhost, and client certificates, each with a serial number the
// test chose (so a test can tell which certificate a handshake presented). EC P-256 keys: quick
// to generate, and every client here speaks them.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
  /** Hex, upper case, as Node's getPeerCertificate().serialNumber shows it. */
  serial: string;
}

export interface TestPki {
  dir: string;
  /** PEM of the CA certificate. */
  ca: string;
  /** A server certificate (CN localhost, SAN localhost and 127.0.0.1) signed by the CA. */
  server(name: string, serial: string): CertFiles;
  /** A client certificate signed by the CA; `cn` null makes one without a Common Name. */
  client(name: string, cn: string | null, serial: string): CertFiles;
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (status ${r.status}): ${r.stderr}`);
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makePki(dir: string): TestPki {
  const ca = join(dir, 'ca.pem');
  openssl(dir, ['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', ca, '-days', '2', '-subj', '/CN=Shoal Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const issue = (name: string, subject: string, serial: string, ext: string): CertFiles => {
    const extFile = join(dir, `${name}.ext`);
    writeFileSync(extFile, ext);
    openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', ca, '-CAkey', 'ca.key', '-set_serial', `0x${serial}`, '-days', '2', '-out', `${name}.pem`, '-extfile', extFile]);
    return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`), serial: serial.toUpperCase() };
  };
  return {
    dir,
    ca,
    server: (name, serial) =>
      issue(name, '/CN=localhost', serial, 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n'),
    client: (name, cn, serial) =>
      issue(name, cn === null ? '/O=Shoal Tests' : `/CN=${cn}`, serial, 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n'),
  };
}
