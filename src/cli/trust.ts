import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ProbeErrorInfo } from '../model/result.js';
import { UsageError } from './io.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The CA certificates to trust for `--cacert <file>` (PEM, one or more), or null without it.
 * Passing `ca` to tls.connect replaces Node's default list ("Mozilla's CAs are completely
 * replaced", doc/api/tls.md, tls.createSecureContext `ca`), NODE_EXTRA_CA_CERTS included
 * ("Neither the well known nor extra certificates are used when the ca options property is
 * explicitly specified", doc/api/cli.md), so that file's certificates are added here too; the
 * engine adds the bundled roots (tls.rootCertificates). A file that cannot be read or holds no valid
 * certificate is a usage error.
 */
export function readCaCertificates(file: string | undefined, env: NodeJS.ProcessEnv): string[] | null {
  if (file === undefined) return null;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --cacert ${file}: ${(err as Error).message}`);
  }
  const certs = text.match(PEM_CERTIFICATE) ?? [];
  if (certs.length === 0) throw new UsageError(`--cacert ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  certs.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new UsageError(`--cacert ${file}: certificate ${i + 1} is not valid: ${(err as Error).message}`);
    }
  });
  return [...certs, ...extraCaCertificates(env)];
}

/** NODE_EXTRA_CA_CERTS's certificates; none if unset or unreadable (Node has already warned at start-up). */
function extraCaCertificates(env: NodeJS.ProcessEnv): string[] {
  const file = env.NODE_EXTRA_CA_CERTS;
  if (file === undefined || file === '') return [];
  try {
    return readFileSync(file, 'utf8').match(PEM_CERTIFICATE) ?? [];
  } catch {
    return [];
  }
}

// The issuer is not among the trusted CAs (X509_V_ERR_* names, as Node reports them).
const UNTRUSTED_ISSUER = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_UNTRUSTED',
]);

/**
 * What the user can do about a failed TLS handshake, by Node's error code (and whether
 * --cacert was given); null when there is nothing to suggest.
 */
export function tlsHint(err: Pick<ProbeErrorInfo, 'code' | 'errno'>, cacertGiven: boolean): string | null {
  if (err.code !== 'tls-failed' || err.errno === null) return null;
  if (UNTRUSTED_ISSUER.has(err.errno)) {
    if (cacertGiven) {
      return 'no CA in the --cacert file signed its chain, or the server does not send its intermediate certificate (then add the intermediate to the file; Node before 20.18 also needs the root there), or skip verification with --insecure';
    }
    return 'trust the CA that signed it with --cacert <file.pem> (or NODE_EXTRA_CA_CERTS), or skip verification with --insecure';
  }
  if (err.errno === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'the certificate does not name this host: probe a name it lists, or skip verification with --insecure';
  if (err.errno === 'CERT_HAS_EXPIRED' || err.errno === 'CERT_NOT_YET_VALID') return '--insecure skips the check';
  return null;
}
