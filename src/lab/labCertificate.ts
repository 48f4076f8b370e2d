import { generateKeyPairSync, randomBytes } from 'node:crypto';
import net from 'node:net';

/** A PEM key and certificate for the lab's TLS listener. */
export interface LabCertificate {
  readonly key: string;
  readonly cert: string;
}

/**
 * A self-signed certificate for `serve --tls`, made at start so the lab needs no files and
 * no openssl binary: the RSA key comes from node:crypto (native, fast); node-forge (pure
 * JavaScript, no dependencies) writes and signs the X.509 certificate, which Node 20's
 * crypto cannot. Valid from a day ago for 30 days, for `localhost`, 127.0.0.1, ::1 and the
 * address the lab listens on. Loaded only when TLS is asked for.
 */
export async function selfSignedCertificate(listenHost: string): Promise<LabCertificate> {
  const { default: forge } = await import('node-forge');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  // A positive serial (RFC 5280 §4.1.2.2): 16 random bytes with the top bit clear.
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  cert.serialNumber = serial.toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 24 * 3600_000);
  cert.validity.notAfter = new Date(now + 30 * 24 * 3600_000);
  const name = [{ name: 'commonName', value: 'keepalive-probe lab' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  const ips = new Set(['127.0.0.1', '::1']);
  const dns = new Set(['localhost']);
  if (net.isIP(listenHost) !== 0) ips.add(listenHost);
  else dns.add(listenHost);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [...[...dns].map((value) => ({ type: 2, value })), ...[...ips].map((ip) => ({ type: 7, ip }))] },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { key: keyPem, cert: forge.pki.certificateToPem(cert) };
}
