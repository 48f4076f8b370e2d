import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type net from 'node:net';
import path from 'node:path';

/** PEM files written by issueTestPki. */
export interface TestPki {
  /** The CA that signed the server certificate. */
  readonly ca: string;
  /** A CA that signed nothing here. */
  readonly otherCa: string;
  readonly key: string;
  /** The server certificate, for IP 127.0.0.1 and the name probe.test. */
  readonly cert: string;
  /** An intermediate CA that `ca` signed. */
  readonly intermediate: string;
  /** A server certificate (same key and names) signed by the intermediate, followed by the intermediate: the chain a server sends. */
  readonly chainCert: string;
}

/**
 * Makes, with openssl in `dir`, an internal CA and a server certificate it signed for
 * 127.0.0.1 and probe.test (what a private API has), plus an unrelated CA. Valid for two days.
 */
export function issueTestPki(dir: string): TestPki {
  const file = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
  for (const ca of ['ca', 'other-ca']) {
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=keepalive-probe test ${ca}`,
      '-keyout',
      file(`${ca}.key`),
      '-out',
      file(`${ca}.pem`),
    );
  }
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', file('key.pem'), '-out', file('server.csr'));
  writeFileSync(file('san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:probe.test\n');
  openssl(
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    file('san.cnf'),
    '-out',
    file('cert.pem'),
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=keepalive-probe test intermediate',
    '-keyout',
    file('intermediate.key'),
    '-out',
    file('intermediate.csr'),
  );
  writeFileSync(file('intermediate.cnf'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  openssl(
    'x509',
    '-req',
    '-in',
    file('intermediate.csr'),
    '-CA',
    file('ca.pem'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    file('intermediate.cnf'),
    '-out',
    file('intermediate.pem'),
  );
  openssl(
    'x509',
    '-req',
    '-in',
    file('server.csr'),
    '-CA',
    file('intermediate.pem'),
    '-CAkey',
    file('intermediate.key'),
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    file('san.cnf'),
    '-out',
    file('leaf.pem'),
  );
  writeFileSync(file('chain.pem'), readFileSync(file('leaf.pem'), 'utf8') + readFileSync(file('intermediate.pem'), 'utf8'));
  return {
    ca: file('ca.pem'),
    otherCa: file('other-ca.pem'),
    key: file('key.pem'),
    cert: file('cert.pem'),
    intermediate: file('intermediate.pem'),
    chainCert: file('chain.pem'),
  };
}

/** A node:https server on 127.0.0.1 with `pki`'s key and `cert` (default pki.cert); returns its URL and a stop function. */
export async function startHttpsServer(pki: TestPki, keepAliveTimeoutMs: number, cert = pki.cert): Promise<{ url: string; stop: () => void }> {
  const server = https.createServer({ key: readFileSync(pki.key), cert: readFileSync(cert) }, (_req, res) => res.end('tls\n'));
  server.keepAliveTimeout = keepAliveTimeoutMs;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as net.AddressInfo).port}/`,
    stop: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}
