import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UsageError } from '../model/errors.js';

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
export function readCaCertificates(file: string | null, extraCaFile: string | null): string[] | null {
  if (file === null) return null;
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
  return [...certs, ...extraCaCertificates(extraCaFile)];
}

/** NODE_EXTRA_CA_CERTS's certificates; none if unset or unreadable (Node has already warned at start-up). */
function extraCaCertificates(file: string | null): string[] {
  if (file === null) return [];
  try {
    return readFileSync(file, 'utf8').match(PEM_CERTIFICATE) ?? [];
  } catch {
    return [];
  }
}
