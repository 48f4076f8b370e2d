import type net from 'node:net';

/**
 * The hostile and broken servers the probe is run against (test/hostile.test.ts), each with
 * the classification and exit code docs/hostile-peers.md documents for it. A server is a
 * function of the accepted socket: `onConnect` runs at once, `onRequest` for every request
 * head (n counts from 1 on each connection; the probe's preflight request is on its own
 * connection, so every connection sees the same script).
 */
export interface HostileServer {
  readonly id: string;
  readonly behaviour: string;
  readonly onConnect?: (socket: net.Socket) => void;
  readonly onRequest?: (socket: net.Socket, n: number) => void;
  /**
   * `error:<code>` when the target cannot be probed; otherwise the http11-reuse connection:
   * `reused=<yes|no> end=<close kind>`. Several when the probe's next request races the
   * server's close (a real race: whichever reaches the other side first decides).
   */
  readonly classification: readonly string[];
  readonly exit: 0 | 3;
}

const ok = (body = 'ok', extra = ''): string => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;
const write = (s: net.Socket, text: string | Buffer): void => void s.write(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
const reply =
  (text: string): HostileServer['onRequest'] =>
  (s) =>
    write(s, text);
const replyThenEnd =
  (text: string): HostileServer['onRequest'] =>
  (s) =>
    void s.end(Buffer.from(text, 'latin1'));
const replyThenReset =
  (text: string): HostileServer['onRequest'] =>
  (s) => {
    write(s, text);
    setImmediate(() => s.resetAndDestroy());
  };
const TLS_ALERT = Buffer.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x32]);
const TLS_HELLO = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x0e, 0x00, 0x00, 0x00]);
const H2_SETTINGS = Buffer.from([0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]);

/** Writes `text` a byte at a time, `gapMs` apart (stops when the socket is gone). */
function trickle(s: net.Socket, text: string, gapMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (s.destroyed || i >= text.length) return clearInterval(timer);
    s.write(text[i] ?? '', 'latin1');
    i += 1;
  }, gapMs);
  s.once('close', () => clearInterval(timer));
}

const notProbeable = (id: string, behaviour: string, code: string, server: Pick<HostileServer, 'onConnect' | 'onRequest'>): HostileServer => ({
  id,
  behaviour,
  ...server,
  classification: [`error:${code}`],
  exit: 3,
});
const probed = (
  id: string,
  behaviour: string,
  reused: 'yes' | 'no',
  end: string | readonly string[],
  server: Pick<HostileServer, 'onConnect' | 'onRequest'>,
): HostileServer => ({
  id,
  behaviour,
  ...server,
  classification: (typeof end === 'string' ? [end] : end).map((e) => `reused=${reused} end=${e}`),
  exit: 0,
});

export const HOSTILE_SERVERS: readonly HostileServer[] = [
  // Not HTTP at all.
  notProbeable('never-answers', 'accepts and never answers', 'no-response', {}),
  notProbeable('fin-before-answer', 'closes (FIN) when the request arrives', 'closed-before-response', { onRequest: (s) => void s.end() }),
  notProbeable('rst-before-answer', 'resets when the request arrives', 'closed-before-response', { onRequest: (s) => void s.resetAndDestroy() }),
  notProbeable('ssh-banner', 'an SSH banner', 'not-http', { onConnect: (s) => write(s, 'SSH-2.0-OpenSSH_9.2p1\r\n') }),
  notProbeable('smtp-banner', 'an SMTP greeting', 'not-http', { onConnect: (s) => write(s, '220 mail.example ESMTP ready\r\n') }),
  notProbeable('redis-error', 'a Redis error line', 'not-http', { onRequest: reply('-ERR unknown command\r\n') }),
  notProbeable('tls-alert', 'a TLS alert record (a TLS port)', 'not-http', { onRequest: (s) => void s.end(TLS_ALERT) }),
  notProbeable('tls-handshake', 'a TLS handshake record', 'not-http', { onRequest: (s) => void s.end(TLS_HELLO) }),
  notProbeable('http09', 'a body without a status line (HTTP/0.9)', 'not-http', { onRequest: replyThenEnd('hello world\n') }),
  notProbeable('h2-settings', 'an HTTP/2 SETTINGS frame', 'not-http', { onRequest: (s) => write(s, H2_SETTINGS) }),
  notProbeable('lowercase-http', 'a status line in lower case', 'not-http', { onRequest: reply('http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n') }),
  notProbeable('binary-garbage', 'random bytes', 'not-http', { onRequest: (s) => write(s, Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a])) }),
  // HTTP, but broken.
  notProbeable('http2-status', 'HTTP/2.0 in an HTTP/1.1 status line', 'protocol-error', { onRequest: reply('HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n') }),
  notProbeable('bad-status-code', 'a status code with letters', 'protocol-error', { onRequest: reply('HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n') }),
  notProbeable('one-digit-status', 'a one-digit status code', 'protocol-error', { onRequest: reply('HTTP/1.1 2 OK\r\nContent-Length: 0\r\n\r\n') }),
  notProbeable('status-099', 'status 099', 'protocol-error', { onRequest: reply('HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n') }),
  notProbeable('bare-cr', 'a bare CR inside a header value', 'protocol-error', {
    onRequest: reply('HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n'),
  }),
  notProbeable('space-in-name', 'a space inside a header name', 'protocol-error', {
    onRequest: reply('HTTP/1.1 200 OK\r\nX Y: z\r\nContent-Length: 0\r\n\r\n'),
  }),
  notProbeable('space-before-colon', 'whitespace before the colon', 'protocol-error', {
    onRequest: reply('HTTP/1.1 200 OK\r\nX-A : z\r\nContent-Length: 0\r\n\r\n'),
  }),
  notProbeable('nul-in-header', 'a NUL byte in a header value', 'protocol-error', {
    onRequest: reply('HTTP/1.1 200 OK\r\nX-A: a\u0000b\r\nContent-Length: 0\r\n\r\n'),
  }),
  notProbeable('header-too-large', 'a 70 KiB header', 'protocol-error', {
    onRequest: reply(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\nContent-Length: 0\r\n\r\n`),
  }),
  notProbeable('too-many-headers', '300 header fields', 'protocol-error', {
    onRequest: reply(`HTTP/1.1 200 OK\r\n${Array.from({ length: 300 }, (_, i) => `X-${i}: v\r\n`).join('')}Content-Length: 0\r\n\r\n`),
  }),
  notProbeable('endless-1xx', '20 interim 100 Continue responses', 'protocol-error', { onRequest: reply('HTTP/1.1 100 Continue\r\n\r\n'.repeat(20)) }),
  notProbeable('1xx-then-fin', '100 Continue, then a FIN', 'protocol-error', { onRequest: replyThenEnd('HTTP/1.1 100 Continue\r\n\r\n') }),
  notProbeable('headers-cut-by-fin', 'half a head, then a FIN', 'protocol-error', { onRequest: replyThenEnd('HTTP/1.1 200 OK\r\nContent-Le') }),
  notProbeable('body-short-fin', 'Content-Length 10, 3 bytes, FIN', 'protocol-error', {
    onRequest: replyThenEnd('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'),
  }),
  notProbeable('body-short-rst', 'Content-Length 10, 3 bytes, RST', 'closed-before-response', {
    onRequest: replyThenReset('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'),
  }),
  notProbeable('chunked-cut-by-fin', 'a chunked body cut by a FIN', 'protocol-error', {
    onRequest: replyThenEnd('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel'),
  }),
  notProbeable('bad-chunk-size', 'a chunk size that is not hex', 'protocol-error', {
    onRequest: reply('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'),
  }),
  notProbeable('chunk-size-overflow', 'a chunk size of 2^72', 'protocol-error', {
    onRequest: reply('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n'),
  }),
  notProbeable('conflicting-cl', 'two different Content-Lengths', 'protocol-error', {
    onRequest: reply('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk'),
  }),
  notProbeable('signed-cl', 'Content-Length: +2', 'protocol-error', { onRequest: reply('HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok') }),
  notProbeable('negative-cl', 'Content-Length: -1', 'protocol-error', { onRequest: reply('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n') }),
  notProbeable('te-and-cl', 'Transfer-Encoding and Content-Length together', 'protocol-error', {
    onRequest: reply('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n'),
  }),
  notProbeable('chunked-twice', 'chunked applied twice', 'protocol-error', {
    onRequest: reply('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n'),
  }),
  notProbeable('unrequested-101', 'switches protocols (101) unasked', 'protocol-error', {
    onRequest: reply('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
  }),
  notProbeable('trickled-head', 'the head at one byte per 100 ms', 'no-response', {
    onRequest: (s) => trickle(s, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Padding: aaaaaaaaaaaaaaaaaaaa\r\n\r\nok', 100),
  }),
  notProbeable('endless-headers', 'header lines that never end', 'no-response', {
    onRequest: (s) => {
      write(s, 'HTTP/1.1 200 OK\r\n');
      const timer = setInterval(() => (s.destroyed ? clearInterval(timer) : write(s, 'X-More: yes\r\n')), 50);
      s.once('close', () => clearInterval(timer));
    },
  }),
  notProbeable('body-never-ends', 'Content-Length 1000000, then 10 bytes and silence', 'no-response', {
    onRequest: reply('HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n0123456789'),
  }),
  notProbeable('unframed-held-open', 'no framing, connection held open', 'no-response', { onRequest: reply('HTTP/1.1 200 OK\r\n\r\nstreaming') }),
  notProbeable('close-on-accept', 'closes (FIN) as soon as it accepts', 'closed-before-response', { onConnect: (s) => void s.end() }),
  // HTTP the probe can work with: what http11-reuse makes of it.
  probed('keep-alive', 'a plain keep-alive server (control)', 'yes', 'client-close', { onRequest: reply(ok()) }),
  probed('close-every-response', '"Connection: close" on every response', 'no', 'server-close-after-response', {
    onRequest: replyThenEnd(ok('ok', 'Connection: close\r\n')),
  }),
  probed('fin-after-keep-alive', 'announces keep-alive, then FIN at once', 'no', ['server-idle-close', 'premature-close'], { onRequest: replyThenEnd(ok()) }),
  probed('rst-after-keep-alive', 'announces keep-alive, then RST at once', 'no', ['server-reset', 'reset-on-read', 'write-epipe'], {
    onRequest: replyThenReset(ok()),
  }),
  probed('http10-response', 'HTTP/1.0 responses without keep-alive', 'no', 'server-close-after-response', {
    onRequest: replyThenEnd('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok'),
  }),
  probed('bytes-after-204', 'bytes after a 204', 'no', 'client-close', { onRequest: reply('HTTP/1.1 204 No Content\r\n\r\nsurprise') }),
  probed('bytes-beyond-cl', 'bytes beyond Content-Length', 'no', 'client-close', { onRequest: reply(`${ok()}EXTRA`) }),
  probed('duplicate-response', 'the response twice for one request', 'no', 'client-close', { onRequest: reply(`${ok()}${ok()}`) }),
  probed('early-hints', '103 Early Hints before each 200', 'yes', 'client-close', {
    onRequest: reply(`HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n${ok()}`),
  }),
  probed('continue-first', '100 Continue before each 200', 'yes', 'client-close', { onRequest: reply(`HTTP/1.1 100 Continue\r\n\r\n${ok()}`) }),
  probed('obs-fold', 'a folded header line', 'yes', 'client-close', { onRequest: reply('HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok') }),
  probed('lf-only', 'line endings without CR', 'yes', 'client-close', { onRequest: reply('HTTP/1.1 200 OK\nContent-Length: 2\n\nok') }),
  probed('garbage-keep-alive', 'Keep-Alive: timeout=abc, ≠', 'yes', 'client-close', {
    onRequest: reply(ok('ok', 'Keep-Alive: timeout=abc, \u00e2\u0089\u00a0\r\n')),
  }),
  probed('huge-keep-alive', 'Keep-Alive: timeout=99999999999', 'yes', 'client-close', { onRequest: reply(ok('ok', 'Keep-Alive: timeout=99999999999\r\n')) }),
  probed('upgrade-token', 'Connection: keep-alive, Upgrade on a 200', 'yes', 'client-close', {
    onRequest: reply(ok('ok', 'Connection: keep-alive, Upgrade\r\n')),
  }),
  probed('close-wins', 'Connection: close, keep-alive', 'no', 'server-close-after-response', {
    onRequest: replyThenEnd(ok('ok', 'Connection: close, keep-alive\r\n')),
  }),
  probed('same-cl-twice', 'Content-Length: 2, 2', 'yes', 'client-close', { onRequest: reply('HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok') }),
  probed('chunked-extras', 'chunk extensions, upper-case hex and trailers', 'yes', 'client-close', {
    onRequest: reply('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA;name=v\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n'),
  }),
  probed('chunked-gzip-close', 'Transfer-Encoding: chunked, gzip, read to the close', 'no', 'server-close-after-response', {
    onRequest: replyThenEnd('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nabcdef'),
  }),
  probed('unframed-then-fin', 'no framing, then FIN', 'no', 'server-close-after-response', { onRequest: replyThenEnd('HTTP/1.1 200 OK\r\n\r\nuntil the end') }),
  probed('304-with-cl', '304 with a Content-Length and no body', 'yes', 'client-close', {
    onRequest: reply('HTTP/1.1 304 Not Modified\r\nContent-Length: 677\r\n\r\n'),
  }),
  probed('204-with-cl', '204 with a Content-Length and no body', 'yes', 'client-close', {
    onRequest: reply('HTTP/1.1 204 No Content\r\nContent-Length: 50\r\n\r\n'),
  }),
  probed('status-599', 'status 599', 'yes', 'client-close', { onRequest: reply('HTTP/1.1 599 Odd\r\nContent-Length: 0\r\n\r\n') }),
  probed('no-reason', 'a status line without a reason phrase', 'yes', 'client-close', { onRequest: reply('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n') }),
  probed('408-on-reuse', '408 and Connection: close on the second request', 'yes', 'server-close-after-response', {
    onRequest: (s, n) => (n === 1 ? write(s, ok()) : void s.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')),
  }),
  probed('cap-two-silent', 'closes after the second response without warning', 'yes', ['server-idle-close', 'premature-close'], {
    onRequest: (s, n) => (n < 2 ? write(s, ok()) : void s.end(ok())),
  }),
  probed('byte-by-byte', 'every response one byte per write', 'yes', 'client-close', { onRequest: (s) => trickle(s, ok(), 1) }),
  probed('hostile-server-header', 'a Server header full of escape sequences', 'yes', 'client-close', {
    onRequest: reply(ok('ok', 'Server: evil\u001b]8;;http://x\u0007\u001b[2J\u009b31m\u00e2\u0080\u00ae\r\n')),
  }),
  probed('huge-server-header', 'a 60 000-byte Server header', 'yes', 'client-close', { onRequest: reply(ok('ok', `Server: ${'s'.repeat(60_000)}\r\n`)) }),
];
