import net from 'node:net';
import tls from 'node:tls';
import { ProbeError } from '../model/errors.js';
import { hostPort } from '../util/hostPort.js';
import { connectError } from './connectError.js';
import type { ConnectOptions } from './connection.js';
import type { ProbeSocket } from './timekeeper.js';

/** What the TLS handshake settled, for the `tls` event. */
export interface TlsFacts {
  readonly protocol: string | null;
  readonly alpn: string | null;
}

/** Calls made while a socket connects (to record events in the connection's own log). */
export interface DialHooks {
  /** TCP is connected (before TLS). */
  readonly connected: () => void;
  /** The connect deadline expired (the socket is destroyed next). */
  readonly timedOut: () => void;
}

/**
 * Opens a probe socket (allowHalfOpen, so the probe, not Node, decides when to answer the
 * server's FIN) offering `alpn` over TLS; in the run's timekeeper thread when the options name
 * it (wire/timekeeper.ts: a sample measured again). The socket is returned at once so the
 * caller can attach its listeners before any byte arrives; `ready` settles when TCP (and TLS)
 * are up, bounded by the connect deadline, or rejects with a ProbeError.
 */
export function dial(options: ConnectOptions, alpn: readonly string[], hooks: DialHooks): { socket: ProbeSocket; ready: Promise<TlsFacts | null> } {
  const { socket, facts } = connect(options, alpn);
  const where = hostPort(options.host, options.port);
  const ready = new Promise<TlsFacts | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      hooks.timedOut();
      socket.destroy();
      reject(new ProbeError('connect-timeout', `connect timed out to ${where} after ${options.connectTimeoutMs} ms`, 'ETIMEDOUT', 'connect'));
    }, options.connectTimeoutMs);
    const fail = (err: Error): void => {
      clearTimeout(timer);
      reject(connectError(err, where, options.ca !== null));
    };
    socket.once('error', fail);
    socket.once('connect', () => hooks.connected());
    socket.once(options.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(options.tls ? facts() : null);
    });
  });
  return { socket, ready };
}

/** The socket, connecting, and how to read what its TLS handshake settled once it has. */
function connect(options: ConnectOptions, alpn: readonly string[]): { socket: ProbeSocket; facts: () => TlsFacts | null } {
  const { timekeeper } = options;
  if (timekeeper != null) {
    const tlsTo = options.tls ? { fields: tlsFields(options, alpn), serverName: options.serverName, ca: options.ca, keylog: options.keylog != null } : null;
    const socket = timekeeper.connect({ host: options.host, port: options.port, tls: tlsTo }, options.keylog ?? null);
    return { socket, facts: () => socket.tlsFacts };
  }
  if (!options.tls) return { socket: net.connect({ host: options.host, port: options.port, allowHalfOpen: true }), facts: () => null };
  const socket = tls.connect(tlsOptions(options, alpn));
  if (options.keylog != null) socket.on('keylog', options.keylog);
  const facts = (): TlsFacts => {
    const chosen = socket.alpnProtocol;
    return { protocol: socket.getProtocol(), alpn: typeof chosen === 'string' ? chosen : null };
  };
  return { socket, facts };
}

function tlsOptions(options: ConnectOptions, alpn: readonly string[]): tls.ConnectionOptions {
  const { serverName } = options;
  return {
    ...tlsFields(options, alpn),
    // Node checks servername, else host: with --resolve host is the address connected to, and
    // an IP URL has no servername, so name the URL's host explicitly.
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(serverName, cert),
    ...(options.ca === null ? {} : { secureContext: secureContextFor(options.ca) }),
  };
}

/** The TLS connect options that are plain data (the timekeeper's thread takes them as they are, wire/timekeeper.ts). */
export interface TlsFields {
  readonly host: string;
  readonly port: number;
  readonly servername: string | undefined;
  readonly rejectUnauthorized: boolean;
  readonly ALPNProtocols: string[];
  /** tls.connect honours it (lib/_tls_wrap.js passes it to the TLSSocket) though its types omit it. */
  readonly allowHalfOpen: true;
}

export function tlsFields(options: ConnectOptions, alpn: readonly string[]): TlsFields {
  return {
    host: options.host,
    port: options.port,
    // SNI carries names only (RFC 6066 §3).
    servername: net.isIP(options.serverName) === 0 ? options.serverName : undefined,
    rejectUnauthorized: !options.insecure,
    ALPNProtocols: [...alpn],
    allowHalfOpen: true,
  };
}

/**
 * One secure context per CA list (one per run): building it from ~150 PEM roots takes ~25 ms
 * of the event loop, which tls.connect would otherwise spend on every connection. An
 * intermediate CA the user trusts is a trust anchor, as curl does (X509_V_FLAG_PARTIAL_CHAIN;
 * allowPartialTrustChain since Node 20.18.0, ignored before).
 */
const secureContexts = new WeakMap<readonly string[], tls.SecureContext>();

function secureContextFor(ca: readonly string[]): tls.SecureContext {
  let context = secureContexts.get(ca);
  if (context === undefined) {
    // `ca` replaces Node's list: keep the bundled roots beside the user's CAs.
    context = tls.createSecureContext({ ca: [...tls.rootCertificates, ...ca], allowPartialTrustChain: true });
    secureContexts.set(ca, context);
  }
  return context;
}
