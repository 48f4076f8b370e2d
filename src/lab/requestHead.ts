import { tokenize } from '../http/persistence.js';

/**
 * The lab server's strict request reader (RFC 9112 §2-§6): one request head at a time out
 * of a connection's buffer. Anything it does not understand is a 400 and the connection
 * ends, so no input can make the lab answer twice, loop, or take garbage for a request.
 */

/** Limits of the lab server (docs/scenarios.md, "The lab server's limits"). */
export const LAB_LIMITS = {
  /** Bytes of one request head; beyond it: 431 and close. */
  maxHeadBytes: 16 * 1024,
  /** Header fields in one request head. */
  maxHeaders: 100,
  /** Bytes of one request body (Content-Length), read and discarded; beyond it: 413 and close. */
  maxBodyBytes: 1024 * 1024,
  /** Time to complete a request head once its first byte arrived (slowloris bound), ms. */
  headTimeoutMs: 30_000,
  /** Connections open at once; more are refused (accepted and closed at once by Node). */
  maxConnections: 512,
  /** Response bytes queued for a client that does not read; past this the lab stops reading from it. */
  maxPendingOutput: 1024 * 1024,
} as const;

/** A request head the lab accepts. */
export interface RequestHead {
  readonly method: string;
  readonly path: string;
  readonly versionMinor: 0 | 1;
  readonly connectionTokens: readonly string[];
  /** Body bytes that follow the head (Content-Length; 0 without). */
  readonly contentLength: number;
  /** Bytes of the head, the blank line included. */
  readonly headBytes: number;
}

/** A request the lab refuses, with the status it answers. */
export interface BadRequest {
  readonly status: 400 | 413 | 431;
  readonly reason: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TARGET = /^[\x21-\x7e]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Reads the request head at the start of `buffer`: the head, a refusal, or null when more
 * bytes are needed (and the head is still within its size limit).
 */
export function readRequestHead(buffer: Buffer): RequestHead | BadRequest | null {
  // A request line starts with a method token: anything else (a TLS ClientHello, a binary
  // protocol) is refused at once rather than after the head timeout.
  const first = buffer[0];
  if (first !== undefined && !TOKEN.test(String.fromCharCode(first))) {
    return { status: 400, reason: first === 0x16 ? 'a TLS handshake on a plain HTTP port: use http://' : 'not an HTTP request' };
  }
  const end = buffer.indexOf('\r\n\r\n');
  if (end === -1) return buffer.length > LAB_LIMITS.maxHeadBytes ? { status: 431, reason: 'request head too large' } : null;
  if (end + 4 > LAB_LIMITS.maxHeadBytes) return { status: 431, reason: 'request head too large' };
  const [requestLine = '', ...fields] = buffer.subarray(0, end).toString('latin1').split('\r\n');
  const parts = requestLine.split(' ');
  const [method = '', path = '', version = ''] = parts;
  if (parts.length !== 3 || !TOKEN.test(method) || !TARGET.test(path)) return { status: 400, reason: 'malformed request line' };
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return { status: 400, reason: 'unsupported HTTP version' };
  if (fields.length > LAB_LIMITS.maxHeaders) return { status: 431, reason: 'too many header fields' };
  let connectionTokens: string[] = [];
  const lengths: string[] = [];
  let host = false;
  for (const field of fields) {
    const colon = field.indexOf(':');
    const name = colon === -1 ? '' : field.slice(0, colon);
    const value = field.slice(colon + 1).trim();
    // No whitespace before the colon (§5.1), no obs-fold (§5.2), no control characters (RFC 9110 §5.5).
    if (!TOKEN.test(name) || !FIELD_VALUE.test(value)) return { status: 400, reason: 'malformed header field' };
    const lower = name.toLowerCase();
    if (lower === 'connection') connectionTokens = connectionTokens.concat(tokenize(value));
    if (lower === 'content-length') lengths.push(...value.split(',').map((v) => v.trim()));
    if (lower === 'transfer-encoding') return { status: 400, reason: 'Transfer-Encoding is not supported by the lab (send Content-Length)' };
    if (lower === 'host') host = true;
  }
  // §3.2: an HTTP/1.1 request without Host is answered 400.
  if (version === 'HTTP/1.1' && !host) return { status: 400, reason: 'missing Host header' };
  // §6.3 rule 5: each value a non-negative integer, and all the same.
  if (lengths.some((v) => !/^\d{1,15}$/.test(v)) || new Set(lengths.map(Number)).size > 1) {
    return { status: 400, reason: 'invalid Content-Length' };
  }
  const contentLength = lengths.length === 0 ? 0 : Number(lengths[0]);
  if (contentLength > LAB_LIMITS.maxBodyBytes) return { status: 413, reason: 'request body too large' };
  return { method, path, versionMinor: version === 'HTTP/1.0' ? 0 : 1, connectionTokens, contentLength, headBytes: end + 4 };
}

/** True for a refusal. */
export function isBadRequest(r: RequestHead | BadRequest): r is BadRequest {
  return 'status' in r;
}
