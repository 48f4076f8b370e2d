/**
 * What HTTP clients do with an HTTP/2 connection's end: their idle limit, their PING health
 * check, a GOAWAY, and a connection lost without one. Each fact was read in the client's source
 * at the version named; the error texts marked "measured" in docs/clients.md were printed by the
 * client against a scripted server on this machine. A fact no source confirmed is 'unconfirmed'.
 */
import type { Sourced } from './clientProfiles.js';

/** Whether a client resends, by itself, a request the server's GOAWAY says it did not process (above its last stream id). */
export type UnprocessedRetry = 'replayable' | 'always' | 'none';

/** Whether a request in flight on a connection lost without GOAWAY is resent by the client itself ('after-rst': only when the connection was reset, not after a FIN). */
export type LostRetry = 'replayable' | 'after-rst' | 'none';

export interface H2Behaviour {
  /** When the client speaks HTTP/2: by default (ALPN `h2` over TLS) or the option that turns it on. */
  readonly enabledBy: string;
  /** Versions the facts were checked against. */
  readonly versions: string;
  /** Default time an idle HTTP/2 connection is kept, in ms; null = no limit (kept until the server ends it or it fails). */
  readonly idleMs: Sourced<number | null>;
  /** The setting that bounds it, as for HTTP/1 ({ms} or {s} placeholder); null when there is none. docs/clients.md says how each applies to HTTP/2. */
  readonly setting: { readonly name: string; readonly example: string; readonly unit: 'ms' | 's' } | null;
  /** Whether it sends PING health checks by default, and the setting that turns them on or tunes them. */
  readonly pings: { readonly byDefault: Sourced<boolean>; readonly setting: string };
  /** What a GOAWAY does to new requests and to requests above its last stream id. */
  readonly onGoaway: string;
  /** Whether requests above the GOAWAY's last stream id are resent by the client itself. */
  readonly retriesUnprocessed: Sourced<UnprocessedRetry>;
  /** What a connection that ends without GOAWAY (FIN or RST) does to requests in flight. */
  readonly onLost: string;
  /** Whether those requests are resent by the client itself. */
  readonly retriesLost: Sourced<LostRetry>;
  /** Error texts after a GOAWAY (exact, as users paste them); empty when the client shows none. */
  readonly goawayErrors: readonly string[];
  /** Error texts of a request in flight on a connection that ended without GOAWAY. */
  readonly lostErrors: readonly string[];
  /** Sources: URLs pinned to a tag, or file:line at a named version, or the measurement. */
  readonly sources: readonly string[];
}

/** A client that speaks only HTTP/2 (gRPC) or whose HTTP/2 API is not its HTTP/1 pool (Node's `http2`). */
export interface H2OnlyProfile {
  readonly name: string;
  readonly label: string;
  readonly h2: H2Behaviour;
}

const GO_H2 = 'Go 1.19.8 src/net/http/h2_bundle.go';
const GO_T = 'Go 1.19.8 src/net/http/transport.go';
const NODE_CORE = 'Node 20.20.2 lib/internal/http2/core.js (text of the running binary, process.binding("natives"))';
const UNDICI_H2 = 'https://github.com/nodejs/undici/blob/v6.24.1/lib/dispatcher/client-h2.js';
const CURL_H2 = 'https://github.com/curl/curl/blob/curl-8_21_0';
const OKHTTP_H2 = 'https://github.com/square/okhttp/blob/parent-5.4.0/okhttp/src/commonJvmAndroid/kotlin/okhttp3';
const GRPC_GO_SRC = 'https://github.com/grpc/grpc-go/blob/v1.83.1';
const GRPC_JS_SRC = 'https://github.com/grpc/grpc-node/blob/%40grpc/grpc-js%401.14.3/packages/grpc-js/src';
/** The scripted server of the measurements: TLS with ALPN h2, SETTINGS, then GOAWAY(NO_ERROR, last 0), FIN or RST on the first request. */
const MEASURED =
  'measured on this machine against a scripted HTTP/2 server (TLS, ALPN h2) that answers the first request with GOAWAY(NO_ERROR, last stream 0) then FIN, a FIN, or an RST';
/** The reused-connection measurement, held by test/realClients/h2ClientErrors.test.ts. */
const REUSED =
  'test/realClients/h2ClientErrors.test.ts: the second request on a reused connection (TLS, ALPN h2) meets GOAWAY(NO_ERROR, last stream 1) then FIN, a FIN, or an RST';
/** nghttp2 (Node, grpc-js, curl) closes streams above a GOAWAY's last stream id with REFUSED_STREAM, as Node shows. */
const NGHTTP2_REFUSES =
  'nghttp2 closes a stream above the last stream id with REFUSED_STREAM: Node 20.20.2 stream error "Stream closed with error code NGHTTP2_REFUSED_STREAM", rstCode 7, measured';

export const GO_H2_BEHAVIOUR: H2Behaviour = {
  enabledBy: 'by default over TLS: DefaultTransport has ForceAttemptHTTP2 and offers h2 by ALPN (h2c needs golang.org/x/net/http2)',
  versions: 'Go 1.19.8 (net/http with its bundled HTTP/2 transport)',
  idleMs: 90000,
  setting: {
    name: 'Transport.IdleConnTimeout',
    example: 'http.DefaultTransport.(*http.Transport).IdleConnTimeout = {s} * time.Second',
    unit: 's',
  },
  pings: {
    byDefault: false,
    setting:
      'ReadIdleTimeout (PING after that long without a frame; 0 = off) and PingTimeout (15 s): fields of golang.org/x/net/http2.Transport, reached with t2, _ := http2.ConfigureTransports(t1); t2.ReadIdleTimeout = 30 * time.Second',
  },
  onGoaway:
    'The connection is marked dead in the pool, so new requests open another; requests at or below the last stream id finish; those above it fail with errClientConnGotGoAway and RoundTrip resends them (any method, up to 7 times: the first at once, then after 1 s, 2 s, 4 s …) when the body is empty or has GetBody, otherwise "cannot retry … after Request.Body was written".',
  retriesUnprocessed: 'replayable',
  onLost:
    'Requests in flight fail with "unexpected EOF" (FIN) or the read error (RST) and are not resent (neither the HTTP/2 retry nor net/http\'s accepts them); an idle connection whose FIN arrives is dropped from the pool by its read loop; with ReadIdleTimeout set, an unanswered PING closes it with "http2: client connection lost".',
  retriesLost: 'none',
  goawayErrors: [
    "http2: Transport received Server's graceful shutdown GOAWAY",
    "http2: Transport: cannot retry err [http2: Transport received Server's graceful shutdown GOAWAY] after Request.Body was written; define Request.GetBody to avoid this error",
    'http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=NO_ERROR, debug=""',
  ],
  lostErrors: ['unexpected EOF', 'read: connection reset by peer', 'http2: client connection lost'],
  sources: [
    `${GO_T}:43-54 (DefaultTransport: ForceAttemptHTTP2 true, IdleConnTimeout 90 s)`,
    `${GO_H2}:9749-9754 (idleConnTimeout() returns t1.IdleConnTimeout), :7420-7423 (idle timer per connection), :7660-7661 and :7682 (closeIfIdle)`,
    `${GO_H2}:6870-6881 (ReadIdleTimeout: "If zero, no health check is performed"; PingTimeout "Defaults to 15s"), :6917-6922, :8867-8872 (health-check timer), :7481-7494 (healthCheck), :7790-7791 ("http2: client connection lost")`,
    `${GO_H2}:9408-9420 (processGoAway: MarkDead, setGoAway), :7504-7524 (streams above LastStreamID aborted with errClientConnGotGoAway), :7286-7288 (error texts)`,
    `${GO_H2}:7241-7262 (RoundTripOpt: a failed attempt is resent while retry ≤ 6: 7 resends, the first at once, then 2^(retry−1) s), :7295-7325 (shouldRetryRequest: nil body or GetBody; "cannot retry err [%v] after Request.Body was written"), :7327-7338 (canRetryError: unusable, GOAWAY, REFUSED_STREAM)`,
    `${GO_H2}:8799-8823 (read loop cleanup: MarkDead; EOF after a GOAWAY → GoAwayError, :8786-8788; plain EOF → io.ErrUnexpectedEOF for streams in flight)`,
    `${GO_T}:685-729 (persistConn.shouldRetryRequest: an HTTP/2 read error is none of the retried kinds)`,
    '/usr/share/gocode/src/golang.org/x/net/http2/transport.go:229 (ConfigureTransports, golang-golang-x-net-dev 0.7.0)',
    `${MEASURED}: Go 1.19.8 GET → retried on a new connection, 200; POST with a body → "cannot retry err [...]"; FIN → Get "…": unexpected EOF; RST → read tcp …: read: connection reset by peer`,
    `${REUSED}: Go 1.19.8 GET and POST (strings.Reader body: GetBody) → resent on a new connection, 200; FIN → unexpected EOF; RST → connection reset by peer, neither resent`,
  ],
};

export const UNDICI_H2_BEHAVIOUR: H2Behaviour = {
  enabledBy: 'new Agent({ allowH2: true }) (default false), then h2 when the server picks it by ALPN over TLS; Node 20 fetch keeps it off',
  versions: 'undici 6.24.1 (tag v6.24.1)',
  idleMs: null,
  setting: null,
  pings: { byDefault: false, setting: 'none: client-h2.js sends no PING' },
  onGoaway:
    'Any GOAWAY, NO_ERROR included, destroys the session and the socket at once and fails the request at the head of the queue with SocketError "HTTP/2: "GOAWAY" frame received with code N", even one the server may still have answered; queued requests go to a new connection.',
  retriesUnprocessed: 'none',
  onLost:
    'FIN: the request in flight fails with SocketError "other side closed"; RST: with the socket\'s error (read ECONNRESET); fetch wraps both in TypeError "fetch failed". Nothing is resent.',
  retriesLost: 'none',
  goawayErrors: ['TypeError: fetch failed', 'SocketError: HTTP/2: "GOAWAY" frame received with code 0', 'UND_ERR_SOCKET'],
  lostErrors: ['SocketError: other side closed', 'Error: read ECONNRESET'],
  sources: [
    'https://github.com/nodejs/undici/blob/v6.24.1/docs/docs/api/Client.md#L36 (allowH2, default false)',
    'https://github.com/nodejs/undici/blob/v6.24.1/lib/dispatcher/client-h1.js#L504-L507 and #L827 (keepAliveTimeout is applied only to HTTP/1 sockets: the only uses of kKeepAliveTimeoutValue besides client.js#L232)',
    `${UNDICI_H2}#L80-L123 (connectH2: http2.connect over the socket, no timer and no ping; session.unref())`,
    `${UNDICI_H2}#L226-L257 (onHTTP2GoAway: destroy session and socket, error the running request)`,
    `${UNDICI_H2}#L136-L138 and #L218-L222 ('end' → SocketError('other side closed'))`,
    'https://github.com/nodejs/undici/blob/v6.24.1/lib/core/errors.js#L247-L254 (SocketError, UND_ERR_SOCKET)',
    `${MEASURED}: undici 6.24.1 fetch with allowH2 → TypeError: fetch failed, cause SocketError: HTTP/2: "GOAWAY" frame received with code 0; FIN → cause SocketError: other side closed; RST → cause Error: read ECONNRESET`,
  ],
};

export const CURL_H2_BEHAVIOUR: H2Behaviour = {
  enabledBy: "by default for https:// (CURL_HTTP_VERSION_2TLS since 7.62.0, when built with nghttp2 as Debian's 7.88.1 is); --http2-prior-knowledge for h2c",
  versions: 'curl 7.88.1 CLI (Debian 12), measured on a reused connection; curl 8.21.0 source (tag curl-8_21_0) for the defaults',
  idleMs: 118000,
  setting: { name: 'CURLOPT_MAXAGE_CONN', example: 'curl_easy_setopt(curl, CURLOPT_MAXAGE_CONN, {s}L);', unit: 's' },
  pings: {
    byDefault: false,
    setting: 'CURLOPT_UPKEEP_INTERVAL_MS (default 60 s): a PING is sent only when the application calls curl_easy_upkeep() after that interval',
  },
  onGoaway:
    'The connection is closed for reuse ("server closed with GOAWAY"), so the next transfer opens another. curl 7.88.1 fails a transfer that raced the GOAWAY (above its last stream id) with (16) and does not resend it; 8.21.0 resends a stream closed with REFUSED_STREAM, but whether a stream above the last id takes that path was not settled from its source.',
  retriesUnprocessed: 'none',
  onLost:
    'curl 7.88.1, a transfer racing the close on a reused connection: after a FIN it fails with (18), not resent; after an RST it is resent on a new connection (the HTTP/1 rule: a reused connection that returned no byte). On a fresh connection an RST fails with (56).',
  retriesLost: 'after-rst',
  goawayErrors: ['curl: (16) Error in the HTTP2 framing layer'],
  lostErrors: ['curl: (18) HTTP/2 stream 3 was not closed cleanly before end of the underlying stream', 'curl: (56) Recv failure: Connection reset by peer'],
  sources: [
    `${CURL_H2}/docs/libcurl/opts/CURLOPT_HTTP_VERSION.md (DEFAULT: "Since curl 7.62.0: CURL_HTTP_VERSION_2TLS")`,
    `${CURL_H2}/lib/url.c#L422-L425 (upkeep_interval_ms, conn_max_idle_ms = 118 s), #L572-L603 (conn_maxage, any protocol)`,
    `${CURL_H2}/docs/libcurl/opts/CURLOPT_UPKEEP_INTERVAL_MS.md (the user must call curl_easy_upkeep; default 60000)`,
    `${CURL_H2}/lib/http2.c#L2699-L2709 (cf_h2_keep_alive → http2_send_ping), #L1198-L1204 (GOAWAY recorded), #L1931 (connclose "server closed with GOAWAY"), #L1686-L1691 (REFUSED_STREAM → retry), #L1847-L1851 (stream above the GOAWAY's last id → CURLE_HTTP2)`,
    `${CURL_H2}/lib/transfer.c#L620-L656 (Curl_retry_request: reused connection with 0 bytes, or refused stream; CONN_MAX_RETRIES 5)`,
    'https://github.com/curl/curl/blob/curl-7_88_1/lib/http2.c#L1879-L1880 ("was not closed cleanly before end of the underlying stream"), lib/strerror.c#L113 ("Error in the HTTP2 framing layer")',
    `${MEASURED}: curl 7.88.1 --http2, fresh connection → (16); FIN → (18); RST → (56)`,
    `${REUSED}: curl 7.88.1 --http2 → GOAWAY (16) and FIN (18), not resent; RST → resent on a new connection, 200`,
  ],
};

export const OKHTTP_H2_BEHAVIOUR: H2Behaviour = {
  enabledBy: 'by default over TLS (protocols HTTP_2, HTTP_1_1; h2 by ALPN); Protocol.H2_PRIOR_KNOWLEDGE for h2c',
  versions: 'OkHttp 5.4.0 (tag parent-5.4.0); the resends measured with OkHttp 3.13.1 (h2c prior knowledge)',
  idleMs: 300000,
  setting: {
    name: 'ConnectionPool keepAliveDuration',
    example: 'new OkHttpClient.Builder().connectionPool(new ConnectionPool(5, {s}, TimeUnit.SECONDS)).build()',
    unit: 's',
  },
  pings: {
    byDefault: false,
    setting: 'OkHttpClient.Builder.pingInterval (default 0 = off): a PING every interval; a missing pong fails the connection',
  },
  onGoaway:
    'The connection is shut down (no longer healthy, so not reused); streams above the last stream id get REFUSED_STREAM, a StreamResetException that retryOnConnectionFailure resends on another connection unless the body is one-shot.',
  retriesUnprocessed: 'replayable',
  onLost:
    'FIN: the reader ends cleanly and streams in flight fail with "stream was reset: CANCEL"; RST: with the socket\'s IOException; both are I/O errors that retryOnConnectionFailure resends (any method, unless the body is one-shot).',
  retriesLost: 'replayable',
  goawayErrors: ['okhttp3.internal.http2.StreamResetException: stream was reset: REFUSED_STREAM'],
  lostErrors: ['okhttp3.internal.http2.StreamResetException: stream was reset: CANCEL', 'java.net.SocketException: Connection reset'],
  sources: [
    `${OKHTTP_H2}/OkHttpClient.kt#L1386 (DEFAULT_PROTOCOLS = HTTP_2, HTTP_1_1), #L616 (pingInterval = 0)`,
    `${OKHTTP_H2}/internal/connection/RealConnectionPool.kt#L191-L223 (cleanup by idle time, every connection)`,
    `${OKHTTP_H2}/internal/http2/Http2Connection.kt#L148-L167 (interval pings; missing pong → failConnection)`,
    `${OKHTTP_H2}/internal/http2/Http2Connection.kt#L839-L859 (goAway: isShutdown; streams above lastGoodStreamId → receiveRstStream(REFUSED_STREAM)), #L530-L532 (isHealthy false once shut down)`,
    `${OKHTTP_H2}/internal/http2/Http2Connection.kt#L623-L640 (reader: EOF → NO_ERROR/CANCEL, IOException → PROTOCOL_ERROR with the exception), Http2Reader.kt#L93-L97 (EOF before a frame header ends the loop)`,
    `${OKHTTP_H2}/internal/http2/Http2Stream.kt#L166 (throw errorException ?: StreamResetException(errorCode)), StreamResetException.kt ("stream was reset: $errorCode")`,
    `${OKHTTP_H2}/internal/http/RetryAndFollowUpInterceptor.kt#L133-L198 (recover: any IOException but protocol, interrupt and certificate errors; not a one-shot body)`,
    `${REUSED.replace('(TLS, ALPN h2)', '(h2c)')}: OkHttp 3.13.1 with H2_PRIOR_KNOWLEDGE, GET and POST → resent on a new connection after the GOAWAY, the FIN and the RST, 200`,
  ],
};

export const NODE_HTTP2_PROFILE: H2OnlyProfile = {
  name: 'node-http2',
  label: 'Node.js http2.connect() (one ClientHttp2Session, no pool)',
  h2: {
    enabledBy: 'http2.connect(authority): the application holds the session and reconnects itself',
    versions: 'Node 20.20.2 (nghttp2)',
    idleMs: null,
    setting: { name: 'session.setTimeout', example: 'session.setTimeout({ms}, () => session.close())', unit: 'ms' },
    pings: { byDefault: false, setting: 'none automatic: session.ping() when the application calls it' },
    onGoaway:
      "'goaway' is emitted; NO_ERROR → session.close(): streams at or below the last stream id finish, streams above it fail with REFUSED_STREAM; another code → session.destroy(ERR_HTTP2_SESSION_ERROR). request() then throws ERR_HTTP2_GOAWAY_SESSION while the session closes, ERR_HTTP2_INVALID_SESSION once it is gone. Nothing is resent: connect again.",
    retriesUnprocessed: 'none',
    onLost:
      "FIN without GOAWAY: open streams are closed with NGHTTP2_CANCEL, which Node does not emit as an error: the request's 'close' fires with rstCode 8 and neither 'response' nor 'error'. RST: 'error' with read ECONNRESET on the stream and the session.",
    retriesLost: 'none',
    goawayErrors: [
      'Error [ERR_HTTP2_STREAM_ERROR]: Stream closed with error code NGHTTP2_REFUSED_STREAM',
      'Error [ERR_HTTP2_GOAWAY_SESSION]: New streams cannot be created after receiving a GOAWAY',
      'Error [ERR_HTTP2_INVALID_SESSION]: The session has been destroyed',
      'Error [ERR_HTTP2_SESSION_ERROR]: Session closed with error code 2',
    ],
    lostErrors: ['Error: read ECONNRESET'],
    sources: [
      `${NODE_CORE}:1758-1773 (ClientHttp2Session.request: destroyed → ERR_HTTP2_INVALID_SESSION, closed → ERR_HTTP2_GOAWAY_SESSION), :1408-1430 (ping only on request); no timer is set on a client session`,
      `${NODE_CORE}:688-713 (onGoawayData: emit 'goaway'; NO_ERROR → close(), else destroy(ERR_HTTP2_SESSION_ERROR))`,
      `${NODE_CORE}:3312-3323 (socketOnClose: streams closed with NGHTTP2_CANCEL), :2387-2388 (CANCEL is not an error), :3027-3036 (socketOnError → destroy(error))`,
      'Node 20.20.2 lib/internal/errors.js:1237-1238, 1258, 1294, 1312 (texts of ERR_HTTP2_GOAWAY_SESSION, _INVALID_SESSION, _SESSION_ERROR, _STREAM_ERROR)',
      NGHTTP2_REFUSES,
      `${MEASURED.replace('(TLS, ALPN h2)', '(h2c)')}: Node 20.20.2 → the texts above; FIN → close with rstCode 8 and no error; RST → read ECONNRESET`,
    ],
  },
};

export const GRPC_GO_PROFILE: H2OnlyProfile = {
  name: 'grpc-go',
  label: 'gRPC-Go ClientConn (grpc.NewClient / grpc.Dial)',
  h2: {
    enabledBy: 'always (gRPC runs over HTTP/2)',
    versions: 'grpc-go v1.83.1 (tag v1.83.1)',
    idleMs: 1800000,
    setting: {
      name: 'grpc.WithIdleTimeout',
      example: 'grpc.NewClient(target, grpc.WithIdleTimeout({s} * time.Second))',
      unit: 's',
    },
    pings: {
      byDefault: false,
      setting:
        'grpc.WithKeepaliveParams(keepalive.ClientParameters{Time, Timeout, PermitWithoutStream}): Time defaults to infinity (off), at least 10 s; Timeout 20 s; without PermitWithoutStream no PING while no RPC is open. A gRPC-Go server closes with GOAWAY a client that pings more often than its EnforcementPolicy.MinTime (default 5 min); the client then doubles Time.',
    },
    onGoaway:
      'The transport drains: new RPCs go to another connection; streams above the last stream id are closed with UNAVAILABLE "the connection is draining" and marked unprocessed, and an RPC on its first attempt is then retried transparently.',
    retriesUnprocessed: 'always',
    onLost:
      'RPCs in flight fail with UNAVAILABLE (the connection error, with the GOAWAY seen before it if any); later RPCs reconnect. An unanswered keepalive PING closes the connection the same way.',
    retriesLost: 'none',
    goawayErrors: [
      'rpc error: code = Unavailable desc = the connection is draining',
      'rpc error: code = Unavailable desc = closing transport due to: connection error: desc = "error reading from server: EOF", received prior goaway: code: NO_ERROR',
    ],
    lostErrors: [
      'rpc error: code = Unavailable desc = connection error: desc = "error reading from server: EOF"',
      'rpc error: code = Unavailable desc = connection error: desc = "keepalive ping failed to receive ACK within timeout"',
    ],
    sources: [
      `${GRPC_GO_SRC}/dialoptions.go#L729 (idleTimeout: 30 * time.Minute), #L771-L789 (WithIdleTimeout: "A default timeout of 30 minutes")`,
      `${GRPC_GO_SRC}/keepalive/keepalive.go#L33-L59 (ClientParameters: Time ≥ 10 s, Timeout default 20 s, PermitWithoutStream), #L88-L98 (EnforcementPolicy MinTime 5 minutes; a violating client gets GOAWAY), #L42-L44 ("Time will automatically double if the server disconnects due to its enforcement policy")`,
      `${GRPC_GO_SRC}/internal/transport/defaults.go#L31-L33 (defaultClientKeepaliveTime = infinity, timeout 20 s), internal/transport/http2_client.go#L266-L271`,
      `${GRPC_GO_SRC}/internal/transport/http2_client.go#L1395-L1431 (handleGoAway: draining; streams above the id unprocessed, closed with errStreamDrain), internal/transport/transport.go#L824 (errStreamDrain "the connection is draining")`,
      `${GRPC_GO_SRC}/stream.go#L712-L718 (first attempt and unprocessed → transparent retry)`,
      `${GRPC_GO_SRC}/internal/transport/http2_client.go#L1734 ("error reading from server: %v"), #L1793 ("keepalive ping failed to receive ACK within timeout"), #L1059-L1070 (Close: UNAVAILABLE with err.Error(), "closing transport due to: %v, received prior goaway: %v"), #L1448-L1450 ("code: %s"), internal/transport/transport.go#L793-L795 ("connection error: desc = %q"), internal/status/status.go#L202 ("rpc error: code = %s desc = %s")`,
    ],
  },
};

export const GRPC_JS_PROFILE: H2OnlyProfile = {
  name: 'grpc-js',
  label: 'gRPC for Node.js (@grpc/grpc-js, over Node http2)',
  h2: {
    enabledBy: 'always (gRPC runs over HTTP/2, through Node http2 and nghttp2)',
    versions: '@grpc/grpc-js 1.14.3 (tag @grpc/grpc-js@1.14.3)',
    idleMs: 1800000,
    setting: {
      name: "'grpc.client_idle_timeout_ms' (channel idleness)",
      example: "new Client(address, credentials, { 'grpc.client_idle_timeout_ms': {ms} })",
      unit: 'ms',
    },
    pings: {
      byDefault: false,
      setting: "'grpc.keepalive_time_ms' (default -1 = off), 'grpc.keepalive_timeout_ms' (20 s), 'grpc.keepalive_permit_without_calls' (default off)",
    },
    onGoaway:
      'The subchannel reports the disconnect (a GOAWAY ENHANCE_YOUR_CALM "too_many_pings" doubles the keepalive time) and new calls use a new connection; a call above the last stream id is closed by nghttp2 with REFUSED_STREAM, UNAVAILABLE "Stream refused by server", and is retried transparently once.',
    retriesUnprocessed: 'always',
    onLost: 'Calls in flight end with UNAVAILABLE "Connection dropped" (a connection drop arrives as NGHTTP2_CANCEL, mapped to it); they are not retried.',
    retriesLost: 'none',
    goawayErrors: ['14 UNAVAILABLE: Stream refused by server'],
    lostErrors: ['14 UNAVAILABLE: Connection dropped'],
    sources: [
      `${GRPC_JS_SRC}/internal-channel.ts#L77 (DEFAULT_IDLE_TIMEOUT_MS = 30 min), #L309`,
      `${GRPC_JS_SRC}/transport.ts#L70 (KEEPALIVE_TIMEOUT_MS 20000), #L182-L197 (keepalive_time_ms default -1, permit_without_calls default false), #L204-L224 ('goaway' → reportDisconnectToOwner(tooManyPings))`,
      `${GRPC_JS_SRC}/subchannel.ts#L261-L267 (too_many_pings → keepaliveTime *= 2)`,
      `${GRPC_JS_SRC}/subchannel-call.ts#L257-L267 (REFUSED_STREAM → UNAVAILABLE "Stream refused by server"; CANCEL after a drop → "Connection dropped"), #L350-L359 (onDisconnect)`,
      `${GRPC_JS_SRC}/load-balancing-call.ts#L228-L232 (REFUSED_STREAM → progress 'REFUSED'), retrying-call.ts#L621-L628 (one transparent retry)`,
      `${GRPC_JS_SRC}/call.ts#L83 ("\${code} \${Status[code]}: \${details}")`,
      NGHTTP2_REFUSES,
    ],
  },
};

/** The clients whose HTTP/2 is not their HTTP/1 pool, after the profiles of docs/clients.md's HTTP/1 sections. */
export const H2_ONLY_PROFILES: readonly H2OnlyProfile[] = [NODE_HTTP2_PROFILE, GRPC_GO_PROFILE, GRPC_JS_PROFILE];
