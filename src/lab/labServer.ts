import net from 'node:net';
import tls from 'node:tls';
import type { LabProfile } from '../options/labProfiles.js';
import { LAB_LIMITS, isBadRequest, readRequestHead } from './requestHead.js';
import type { BadRequest, RequestHead } from './requestHead.js';
import { LAB_SERVER_HEADER, labResponseBody } from './labResponse.js';
import { createHttp2Lab, prefaceMatch } from './labHttp2.js';
import type { Http2Lab } from './labHttp2.js';
import { selfSignedCertificate } from './labCertificate.js';

/**
 * The embedded lab server: a small HTTP/1.x server whose keep-alive behaviour is set by
 * flags, so a production misconfiguration can be reproduced on a laptop and tests have a
 * controllable target. It is written on node:net, not node:http, because node:http decides
 * HTTP/1.0 handling, request caps (it answers 503 past maxRequestsPerSocket) and FIN/RST by
 * itself, and those are exactly the behaviours the lab must set.
 * With `profile.http2` set, a connection whose first bytes are the HTTP/2 preface is handed to
 * the HTTP/2 side on the same port (labHttp2.ts); every other connection is HTTP/1.x as before.
 */

/** A running lab server. */
export interface LabServer {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly profile: LabProfile;
  /** With `tls`: the self-signed certificate (PEM) it serves, for a client's `ca`; else null. */
  readonly certificate: string | null;
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>;
}

/** How the lab listens: `tls` serves HTTPS (and h2 by ALPN) with a certificate made at start. */
export interface LabListenOptions {
  readonly tls?: boolean;
}

/** Starts a lab server; `port` 0 picks a free port. */
export async function startLabServer(profile: LabProfile, host = '127.0.0.1', port = 0, options: LabListenOptions = {}): Promise<LabServer> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const h2 = profile.http2 === null ? null : createHttp2Lab(profile, profile.http2);
  const certificate = options.tls === true ? await selfSignedCertificate(host) : null;
  const secureContext = certificate === null ? null : tls.createSecureContext(certificate);
  const server = net.createServer({ allowHalfOpen: false }, (socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (secureContext === null) serveConnection(socket, profile, accepted, h2, () => socket.resetAndDestroy());
    else serveSecure(socket, secureContext, profile, accepted, h2);
  });
  server.maxConnections = LAB_LIMITS.maxConnections;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as net.AddressInfo;
      const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        host: address.address,
        port: address.port,
        url: `${certificate === null ? 'http' : 'https'}://${shownHost}:${address.port}/`,
        profile,
        certificate: certificate?.cert ?? null,
        accepted: () => accepted,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/**
 * A TLS connection: the handshake (bounded like a request head) offers ALPN h2 when the
 * profile speaks HTTP/2, then the connection is HTTP/2 or HTTP/1.x by what the client chose.
 * An RST is sent on the TCP socket under the TLS one (`--close rst`).
 */
function serveSecure(socket: net.Socket, secureContext: tls.SecureContext, profile: LabProfile, connectionNumber: number, h2: Http2Lab | null): void {
  socket.on('error', () => undefined);
  const secure = new tls.TLSSocket(socket, { isServer: true, secureContext, ALPNProtocols: h2 === null ? ['http/1.1'] : ['h2', 'http/1.1'] });
  secure.on('error', () => socket.destroy());
  const handshake = setTimeout(() => socket.destroy(), LAB_LIMITS.headTimeoutMs);
  socket.on('close', () => clearTimeout(handshake));
  secure.once('secure', () => {
    clearTimeout(handshake);
    if (h2 !== null && secure.alpnProtocol === 'h2') h2.adopt(secure, Buffer.alloc(0), connectionNumber);
    else serveConnection(secure, profile, connectionNumber, null, () => socket.resetAndDestroy());
  });
}

/**
 * One accepted connection: parse request heads, answer, and close as the profile says. With
 * `h2`, the first bytes are compared with the HTTP/2 preface as they arrive: the whole preface
 * hands the connection over to `h2`; the first byte that differs makes it HTTP/1.x. Until then
 * the HTTP/1.x idle timer and head guard run as for any connection.
 */
function serveConnection(socket: net.Socket, profile: LabProfile, connectionNumber: number, h2: Http2Lab | null, reset: () => void): void {
  // A client reset must never crash the lab (an unhandled 'error' on an accepted socket does).
  socket.on('error', () => undefined);
  let buffered: Buffer = Buffer.alloc(0);
  let served = 0;
  let closing = false;
  let idleTimer: NodeJS.Timeout | null = null;
  // Bounds a request head that never completes; armed while one is partly received, so it
  // never cuts an idle connection short of the profile's idle timeout (0 = never).
  let headGuard: NodeJS.Timeout | undefined = setTimeout(() => socket.destroy(), LAB_LIMITS.headTimeoutMs);
  const guardHead = (partial: boolean): void => {
    if (partial && headGuard !== undefined) return; // one bound per head, however it trickles in
    clearTimeout(headGuard);
    headGuard = partial ? setTimeout(() => socket.destroy(), LAB_LIMITS.headTimeoutMs) : undefined;
  };

  let dropped = false;
  const shut = (why: 'idle' | 'done'): void => {
    if (closing) return;
    closing = true;
    if (idleTimer !== null) clearTimeout(idleTimer);
    clearTimeout(headGuard);
    switch (profile.close === 'drop' && why === 'done' ? 'fin' : profile.close) {
      case 'rst':
        reset();
        return;
      case 'half':
        // FIN, but keep reading: a late request is read and ignored (no RST). The client's
        // own close (or the head guard's bound) ends the connection.
        socket.end();
        setTimeout(() => socket.destroy(), LAB_LIMITS.headTimeoutMs).unref();
        return;
      case 'drop':
        // Nothing goes on the wire now; the next bytes from the client get an RST, as from a
        // middlebox whose flow entry expired. Bounded like every other wait of the lab.
        dropped = true;
        setTimeout(reset, LAB_LIMITS.headTimeoutMs).unref();
        return;
      default:
        // end() then destroy once flushed: a full close, as nginx and Apache do, so bytes that
        // arrive afterwards (a stale client's request) are answered by the kernel with RST.
        socket.destroySoon();
    }
  };
  const armIdle = (): void => {
    if (idleTimer !== null) clearTimeout(idleTimer);
    if (profile.idleTimeoutMs > 0) idleTimer = setTimeout(() => shut('idle'), profile.idleTimeoutMs);
  };
  armIdle();

  // The request whose body is being read (and discarded) before it is answered.
  let pending: RequestHead | null = null;
  let bodyRemaining = 0;
  const refuse = (bad: BadRequest): void => {
    closing = true;
    if (idleTimer !== null) clearTimeout(idleTimer);
    clearTimeout(headGuard);
    const text = `${bad.reason}\n`;
    socket.end(
      `HTTP/1.1 ${bad.status} ${STATUS_TEXT[bad.status]}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  };
  // Every pass consumes bytes or returns: a request is answered once, after its body.
  const serveBuffered = (): void => {
    for (;;) {
      if (closing) return;
      if (pending !== null) {
        const take = Math.min(bodyRemaining, buffered.length);
        bodyRemaining -= take;
        buffered = buffered.subarray(take);
        if (bodyRemaining > 0) {
          guardHead(true);
          return;
        }
        const req = pending;
        pending = null;
        served += 1;
        if (!respond(socket, req, profile, served, connectionNumber)) {
          shut('done');
          return;
        }
        continue;
      }
      if (buffered.length === 0) {
        guardHead(false);
        armIdle();
        return;
      }
      // A client that sends requests without reading the answers is not read from until it does.
      if (socket.writableLength > LAB_LIMITS.maxPendingOutput) {
        socket.pause();
        socket.once('drain', () => {
          socket.resume();
          serveBuffered();
        });
        return;
      }
      const head = readRequestHead(buffered);
      if (head === null) {
        guardHead(true);
        return;
      }
      guardHead(false);
      if (isBadRequest(head)) {
        refuse(head);
        return;
      }
      buffered = buffered.subarray(head.headBytes);
      pending = head;
      bodyRemaining = head.contentLength;
    }
  };

  let sniffing = h2 !== null;
  const onData = (chunk: Buffer): void => {
    if (dropped) {
      reset();
      return;
    }
    if (closing) return;
    if (idleTimer !== null) clearTimeout(idleTimer);
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    if (sniffing && h2 !== null) {
      const match = prefaceMatch(buffered);
      if (match === 'maybe') {
        guardHead(true);
        return;
      }
      sniffing = false;
      if (match === 'h2') {
        closing = true;
        clearTimeout(headGuard);
        socket.off('data', onData);
        socket.off('close', onClose);
        h2.adopt(socket, buffered, connectionNumber);
        return;
      }
    }
    serveBuffered();
  };
  const onClose = (): void => {
    clearTimeout(headGuard);
    if (idleTimer !== null) clearTimeout(idleTimer);
  };
  socket.on('data', onData);
  socket.on('close', onClose);
}

const STATUS_TEXT: Record<BadRequest['status'], string> = { 400: 'Bad Request', 413: 'Content Too Large', 431: 'Request Header Fields Too Large' };

/** Writes one response; returns whether the connection stays open after it. */
function respond(socket: net.Socket, req: RequestHead, profile: LabProfile, served: number, connectionNumber: number): boolean {
  const wantsKeepAlive =
    req.versionMinor === 1 ? !req.connectionTokens.includes('close') : req.connectionTokens.includes('keep-alive') && profile.http10 === 'keep-alive';
  const capReached = profile.maxRequests > 0 && served >= profile.maxRequests;
  const keepAlive = wantsKeepAlive && !capReached;
  const announceClose = !keepAlive && (!capReached || profile.announceLast || !wantsKeepAlive);
  const body = labResponseBody(served, connectionNumber);
  const lines = [
    `HTTP/1.${req.versionMinor} 200 OK`,
    `Server: ${LAB_SERVER_HEADER}`,
    `Date: ${new Date().toUTCString()}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  if (announceClose) lines.push('Connection: close');
  else if (keepAlive && (req.versionMinor === 0 || profile.advertise)) lines.push('Connection: keep-alive');
  if (keepAlive && profile.advertise) {
    const params: string[] = [];
    if (profile.idleTimeoutMs > 0) params.push(`timeout=${Math.floor(profile.idleTimeoutMs / 1000)}`);
    if (profile.maxRequests > 0) params.push(`max=${profile.maxRequests - served}`);
    if (params.length > 0) lines.push(`Keep-Alive: ${params.join(', ')}`);
  }
  socket.write(`${lines.join('\r\n')}\r\n\r\n${req.method === 'HEAD' ? '' : body}`);
  return keepAlive;
}
