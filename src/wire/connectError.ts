import { ProbeError } from '../model/errors.js';
import type { ProbeErrorCode } from '../model/errors.js';
import { hostPort } from '../util/hostPort.js';

interface SystemErrorLike {
  readonly code?: unknown;
  readonly syscall?: unknown;
  readonly address?: unknown;
  readonly port?: unknown;
  readonly message?: unknown;
  readonly errors?: unknown;
}

/**
 * Turns a connect-phase error from node:net / node:tls into a ProbeError. With
 * autoSelectFamily (default on Node 20) a host with several addresses fails with an
 * AggregateError whose message is empty; its per-address errors carry the detail.
 */
export function connectError(err: unknown, where: string, caGiven: boolean): ProbeError {
  const e = (err ?? {}) as SystemErrorLike;
  const parts = Array.isArray(e.errors) ? (e.errors as SystemErrorLike[]) : [e];
  const first = parts[0] ?? e;
  const errno = typeof e.code === 'string' ? e.code : typeof first.code === 'string' ? first.code : null;
  const syscall = typeof first.syscall === 'string' ? first.syscall : null;
  const addresses = parts.map((p) => (typeof p.address === 'string' ? hostPort(p.address, String(p.port ?? '')) : null)).filter((a): a is string => a !== null);
  const resolved = addresses.filter((a) => a !== where);
  const at = resolved.length > 0 ? `${where} (${resolved.join(', ')})` : where;
  const code = codeForErrno(errno);
  const text = typeof first.message === 'string' && first.message !== '' ? openSslReason(first.message) : String(errno);
  return new ProbeError(code, `${describe(code)} ${at}: ${text}`, errno, syscall, code === 'tls-failed' ? tlsHint(errno, caGiven) : null);
}

/**
 * Certificate verification failures whose OpenSSL name (X509_V_ERR_* without the prefix, as
 * Node reports them in err.code) does not contain CERT. UNABLE_TO_VERIFY_LEAF_SIGNATURE is the
 * one a server certificate from an internal CA gives.
 */
const CERT_VERIFY_ERRORS: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CRL_SIGNATURE_FAILURE',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
]);

// The issuer is not among the trusted CAs (X509_V_ERR_* names, as Node reports them).
const UNTRUSTED_ISSUER: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_UNTRUSTED',
]);

/**
 * What the user can do about a failed certificate check, by Node's error code and whether
 * CAs were given (--cacert); null when there is nothing to suggest.
 */
function tlsHint(errno: string | null, caGiven: boolean): string | null {
  if (errno === null) return null;
  if (UNTRUSTED_ISSUER.has(errno)) {
    if (caGiven) {
      return 'no CA in the --cacert file signed its chain, or the server does not send its intermediate certificate (then add the intermediate to the file; Node before 20.18 also needs the root there), or skip verification with --insecure';
    }
    return 'trust the CA that signed it with --cacert <file.pem> (or NODE_EXTRA_CA_CERTS), or skip verification with --insecure';
  }
  // A TLS ClientHello answered with plain text (an HTTP 400, a banner): OpenSSL reads its first
  // bytes as a record header with an impossible version.
  if (errno === 'ERR_SSL_WRONG_VERSION_NUMBER' || errno === 'ERR_SSL_HTTP_REQUEST')
    return 'the server answered in plain text, not TLS (a plain HTTP port?): use http://';
  if (errno === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'the certificate does not name this host: probe a name it lists, or skip verification with --insecure';
  if (errno === 'CERT_HAS_EXPIRED' || errno === 'CERT_NOT_YET_VALID') return '--insecure skips the check';
  return null;
}

function codeForErrno(errno: string | null): ProbeErrorCode {
  switch (errno) {
    case 'ENOTFOUND':
      return 'dns-not-found';
    case 'EAI_AGAIN':
      return 'dns-temporary';
    case 'ECONNREFUSED':
      return 'connect-refused';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'connect-unreachable';
    case 'ETIMEDOUT':
    case 'ERR_SOCKET_CONNECTION_TIMEOUT':
      return 'connect-timeout';
    case 'ECONNRESET':
      return 'connect-reset';
    default:
      if (errno !== null && (errno.startsWith('ERR_SSL') || errno.startsWith('ERR_TLS') || errno.includes('CERT') || CERT_VERIFY_ERRORS.has(errno))) {
        return 'tls-failed';
      }
      return 'connect-failed';
  }
}

function describe(code: ProbeErrorCode): string {
  switch (code) {
    case 'dns-not-found':
      return 'cannot resolve';
    case 'dns-temporary':
      return 'temporary DNS failure for';
    case 'connect-refused':
      return 'connection refused by';
    case 'connect-unreachable':
      return 'cannot reach';
    case 'connect-timeout':
      return 'connect timed out to';
    case 'connect-reset':
      return 'connection reset while connecting to';
    case 'tls-failed':
      return 'TLS handshake failed with';
    default:
      return 'cannot connect to';
  }
}

/**
 * OpenSSL's error text without its source path: `…:error:0A00010B:SSL routines:
 * ssl3_get_record:wrong version number:../deps/openssl/…:354:` → `wrong version number
 * (OpenSSL ssl3_get_record)`. Other messages pass unchanged.
 */
function openSslReason(message: string): string {
  const m = /:error:[0-9A-Fa-f]+:([^:]+):([^:]+):([^:]+):/.exec(message);
  return m === null ? message : `${m[3]} (OpenSSL ${m[2]})`;
}
