/**
 * Keep-alive defaults of common HTTP clients, each read in the client's source at the version
 * named in `versions`. docs/clients.md explains every field per client, with the same sources.
 * A fact no official source confirmed is 'unconfirmed', never a guess.
 */

import { CURL_H2_BEHAVIOUR, GO_H2_BEHAVIOUR, H2_ONLY_PROFILES, OKHTTP_H2_BEHAVIOUR, UNDICI_H2_BEHAVIOUR } from './h2Profiles.js';
import type { H2Behaviour } from './h2Profiles.js';
import type { ClientName } from './clientNames.js';

/** A value a source confirms, or 'unconfirmed' when no official source was found (never stated as fact). */
export type Sourced<T> = T | 'unconfirmed';

export interface ClientProfile {
  /** --client name: lower-case, e.g. 'node-agent' (one of CLIENT_NAMES, in their order). */
  readonly name: ClientName;
  /** What the user runs, e.g. 'Node.js http.Agent({ keepAlive: true })'. */
  readonly label: string;
  /** Versions the facts below were checked against, e.g. 'Node 20.x (lib/_http_agent.js v20.20.2)'. */
  readonly versions: string;
  /** Default time the pool keeps an idle connection before discarding it, in ms; null = no idle limit (kept until the server closes it or it fails). */
  readonly idleMs: Sourced<number | null>;
  /** Whether the pool shortens its idle limit to the server's `Keep-Alive: timeout=N` response header. */
  readonly honoursKeepAliveHeader: Sourced<boolean>;
  /**
   * Whether its HTTP/1.1 requests say `Connection: keep-alive`. Tomcat and Apache httpd send
   * their `Keep-Alive: timeout=` hint only to such requests, so it decides which hint the
   * client gets (idle-timeout measures both request forms).
   */
  readonly sendsKeepAlive: Sourced<boolean>;
  /**
   * How a honoured hint acts: `shortens` (only when shorter than the client's own limit: Node,
   * .NET) or `replaces` (takes the place of the default, longer too: undici, Apache HttpClient);
   * null when the header is not honoured.
   */
  readonly hintMode: 'shortens' | 'replaces' | null;
  /**
   * How the client reads `Keep-Alive: timeout=` (verdict/keepAliveHint.ts, each rule from the
   * client's source: margin, cap, and which values mean "do not reuse"); null: it never reads it.
   */
  readonly hintRule: 'node' | 'undici' | 'java' | 'dotnet' | null;
  /** Whether a FIN from the server on an idle pooled connection is noticed before reuse (the connection leaves the pool), so only a request racing the close can fail. */
  readonly noticesIdleClose: Sourced<boolean>;
  /**
   * When it notices: only on a connection idle at least this long (Apache HttpClient's
   * validateAfterInactivity, 2 s); 0 for a client that watches or checks every idle connection.
   * A server idling out sooner is met by reuses of dead connections in between.
   */
  readonly staleCheckAfterMs: number;
  /** Whether the client itself retries a request that failed on a reused connection: 'idempotent' (GET/HEAD/... only), 'all', 'none'. */
  readonly retriesStale: Sourced<'idempotent' | 'all' | 'none'>;
  /** The error text the user sees when a pooled connection turns out to be dead (exact strings, as users paste them). */
  readonly staleErrors: readonly string[];
  /** The setting that bounds the client's idle time: its exact name and a code/config example with the placeholder {ms} or {s} for the value. */
  readonly setting: { readonly name: string; readonly example: string; readonly unit: 'ms' | 's' };
  /** One sentence of what else matters (e.g. a stale check, a retry hook), or null. */
  readonly note: string | null;
  /** Sources for the facts above: URLs pinned to a tag/commit/version where possible, file:line when from source. */
  readonly sources: readonly string[];
  /**
   * How the client treats an HTTP/2 connection (src/catalog/h2Profiles.ts, docs/clients.md
   * "HTTP/2"); null: it does not speak HTTP/2 (without an opt-in its sources name);
   * 'unconfirmed': not read here. The HTTP/1 fields above do not apply to it.
   */
  readonly h2: Sourced<H2Behaviour | null>;
}

const NODE_AGENT = 'https://github.com/nodejs/node/blob/v20.20.2/lib/_http_agent.js';
const NODE_CLIENT = 'https://github.com/nodejs/node/blob/v20.20.2/lib/_http_client.js';
const UNDICI = 'https://github.com/nodejs/undici/blob/v6.24.1';
const GO = 'https://github.com/golang/go/blob/go1.19.8/src/net/http';
const HC4 = 'https://github.com/apache/httpcomponents-client/blob/rel/v4.5.14/httpclient/src/main/java/org/apache/http';
const HCORE4 = 'https://github.com/apache/httpcomponents-core/blob/rel/v4.4.16/httpcore/src/main/java/org/apache/http';
const HC5 = 'https://github.com/apache/httpcomponents-client/blob/rel/v5.6.4/httpclient5/src/main/java/org/apache/hc/client5/http';
const OKHTTP = 'https://github.com/square/okhttp/blob/parent-5.4.0/okhttp/src/commonJvmAndroid/kotlin/okhttp3';
const JDK25 = 'JDK 25.0.3 (Temurin) lib/src.zip, java.net.http';
const JDK_CONNECTION_RESET = 'JDK 25.0.3 (Temurin) lib/src.zip, java.base/sun/nio/ch/NioSocketImpl.java:296, 316 (SocketException("Connection reset"))';
const DOTNET = 'https://github.com/dotnet/runtime/blob';
const URLLIB3 = 'https://github.com/urllib3/urllib3/blob/2.7.0/src/urllib3';
const CURL = 'https://github.com/curl/curl/blob/curl-8_21_0';
/** Where sendsKeepAlive comes from for the clients run here: the Connection header each sent by default. */
const REQUEST_FORM_SEEN =
  'request form: the Connection header of a default request, recorded by test/realClients/agreement.test.ts on Debian bookworm (Node 20.20.2 fetch and agents, requests 2.28.1 from requests.utils.default_headers, HttpClient 4.5.14 and 5.2.1: keep-alive; OkHttp 3.13.1: Keep-Alive; Go 1.19.8 and curl 7.88.1: none)';
const REACTOR = 'https://github.com/reactor/reactor-netty/blob/v1.3.6';

/** Node's own error texts for a dead pooled socket (FIN before the response, RST, write after RST). */
const NODE_STALE_ERRORS = ['Error: socket hang up', 'Error: read ECONNRESET', 'Error: write EPIPE'] as const;

const NODE_ERROR_SOURCES = [
  `${NODE_CLIENT}#L477 and #L528 (ConnResetException('socket hang up'), code ECONNRESET, lib/internal/errors.js:832-836)`,
  'https://github.com/nodejs/node/blob/v20.20.2/lib/internal/stream_base_commons.js#L218 (read errors: "read ECONNRESET"), #L95 (write errors: "write EPIPE")',
] as const;

/** One entry per `--client` name; order is the order of docs/clients.md. */
export const CLIENT_PROFILES: readonly ClientProfile[] = [
  {
    name: 'node-agent',
    label: 'Node.js new http.Agent({ keepAlive: true })',
    versions: 'Node 20.x (lib/_http_agent.js v20.20.2); the same logic with a configurable margin (agentKeepAliveTimeoutBuffer) from v24.7.0',
    idleMs: null,
    honoursKeepAliveHeader: false,
    sendsKeepAlive: true,
    hintMode: null,
    hintRule: 'node',
    noticesIdleClose: true,
    staleCheckAfterMs: 0,
    retriesStale: 'none',
    staleErrors: NODE_STALE_ERRORS,
    setting: { name: 'timeout', example: 'new http.Agent({ keepAlive: true, timeout: {ms} })', unit: 'ms' },
    note: 'Without timeout the Keep-Alive hint is parsed but only ever lowers a non-zero agent timeout, so it is ignored (a hint of 1 s or less still keeps the socket out of the pool); with timeout set, hint − 1000 ms applies, and req.reusedSocket tells you when a retry is safe to consider.',
    h2: null,
    sources: [
      'lib/_http_agent.js v20.20.2 (process.binding("natives")): no ALPN and no http2; HTTP/2 is the separate http2 module (profile node-http2)',
      REQUEST_FORM_SEEN,
      `${NODE_AGENT}#L474-L510 (keepSocketAlive: agentTimeout = options.timeout || 0; hint − 1000 used only if smaller; ≤ 0 → not kept)`,
      `${NODE_AGENT}#L54 (HTTP_AGENT_KEEP_ALIVE_TIMEOUT_BUFFER = 1000)`,
      `${NODE_AGENT}#L385-L395 (a free socket that times out is destroyed), #L416-L437 (a closed free socket leaves freeSockets)`,
      `${NODE_AGENT}#L513 (req.reusedSocket = true)`,
      'https://github.com/nodejs/node/commit/6ae202fcdf (PR #59315: agentKeepAliveTimeoutBuffer option, default 1000, v24.7.0)',
      'https://github.com/microsoft/playwright/issues/42698 (the same reading of keepSocketAlive: no timeout → hint discarded)',
      ...NODE_ERROR_SOURCES,
    ],
  },
  {
    name: 'node-global-agent',
    label: 'Node.js http.globalAgent (keepAlive on since Node 19)',
    versions: 'Node 20.x (lib/_http_agent.js v20.20.2)',
    idleMs: 5000,
    honoursKeepAliveHeader: true,
    sendsKeepAlive: true,
    hintMode: 'shortens',
    hintRule: 'node',
    noticesIdleClose: true,
    staleCheckAfterMs: 0,
    retriesStale: 'none',
    staleErrors: NODE_STALE_ERRORS,
    setting: {
      name: 'timeout',
      example: 'http.globalAgent = new http.Agent({ keepAlive: true, timeout: {ms} })',
      unit: 'ms',
    },
    note: 'A hint only shortens the 5 s (timeout=5 from a Node server gives 4000 ms, timeout=1 stops reuse); https.globalAgent is a separate agent with the same options.',
    h2: null,
    sources: [
      REQUEST_FORM_SEEN,
      `${NODE_AGENT}#L552 (globalAgent: new Agent({ keepAlive: true, scheduling: 'lifo', timeout: 5000 }))`,
      `${NODE_AGENT}#L474-L510 (keepSocketAlive: min(timeout, hint − 1000))`,
      'https://github.com/nodejs/node/commit/655b327a4d (PR #52392: documents the globalAgent options, changed in Node 19)',
      ...NODE_ERROR_SOURCES,
    ],
  },
  {
    name: 'undici',
    label: "undici Client/Agent, and Node's global fetch (undici)",
    versions: 'undici 6.24.1 (the copy in Node 20.20.2, process.versions.undici; tag v6.24.1)',
    idleMs: 4000,
    honoursKeepAliveHeader: true,
    sendsKeepAlive: true,
    hintMode: 'replaces',
    hintRule: 'undici',
    noticesIdleClose: true,
    staleCheckAfterMs: 0,
    retriesStale: 'none',
    staleErrors: ['TypeError: fetch failed', 'SocketError: other side closed', 'UND_ERR_SOCKET', 'Error: read ECONNRESET'],
    setting: {
      name: 'keepAliveTimeout and keepAliveMaxTimeout',
      example: 'setGlobalDispatcher(new Agent({ keepAliveTimeout: {ms}, keepAliveMaxTimeout: {ms} }))',
      unit: 'ms',
    },
    note: 'A hint replaces keepAliveTimeout rather than only shortening it (min(hint − 2000 ms, keepAliveMaxTimeout 600 s), and ≤ 0 stops reuse), so a server that advertises more than it keeps is trusted; cap keepAliveMaxTimeout too.',
    h2: UNDICI_H2_BEHAVIOUR,
    sources: [
      REQUEST_FORM_SEEN,
      `${UNDICI}/lib/dispatcher/client.js#L229-L232 (keepAliveTimeout 4e3, keepAliveMaxTimeout 600e3, keepAliveTimeoutThreshold 2e3)`,
      `${UNDICI}/lib/dispatcher/client-h1.js#L493-L508 (hint → min(hint − threshold, max); ≤ 0 → kReset)`,
      `${UNDICI}/lib/dispatcher/client-h1.js#L692-L702 ('end' → SocketError('other side closed')), #L668-L690 ('error' keeps the raw error, e.g. read ECONNRESET)`,
      `${UNDICI}/lib/core/errors.js#L247-L254 (SocketError, code UND_ERR_SOCKET)`,
      `${UNDICI}/lib/web/fetch/index.js#L230 (TypeError('fetch failed', { cause }))`,
      `${UNDICI}/docs/docs/api/Client.md#L24-L26`,
      'https://github.com/nodejs/undici/commit/2e3463c31 (#3145: threshold 1e3 → 2e3, first in v6.14.1)',
    ],
  },
  {
    name: 'go',
    label: 'Go net/http DefaultTransport (http.DefaultClient)',
    versions: 'Go 1.19.8 (src/net/http) and golang/go@a925402b (DefaultTransport unchanged)',
    idleMs: 90000,
    honoursKeepAliveHeader: false,
    sendsKeepAlive: false,
    hintMode: null,
    hintRule: null,
    noticesIdleClose: true,
    staleCheckAfterMs: 0,
    retriesStale: 'idempotent',
    staleErrors: ['http: server closed idle connection', 'EOF', 'read: connection reset by peer', 'write: broken pipe'],
    setting: {
      name: 'Transport.IdleConnTimeout',
      example: 'http.DefaultTransport.(*http.Transport).IdleConnTimeout = {s} * time.Second',
      unit: 's',
    },
    note: 'A failed request is resent on a new connection only if the connection was reused and the request is replayable (GET, HEAD, OPTIONS, TRACE, or an Idempotency-Key/X-Idempotency-Key header, with no body or a GetBody); a POST gets `Post "…": EOF`.',
    h2: GO_H2_BEHAVIOUR,
    sources: [
      `${GO}/transport.go (persistConn.roundTrip sets "Connection: close" only with DisableKeepAlives; no keep-alive header otherwise)`,
      `${GO}/transport.go#L43-L54 (DefaultTransport: IdleConnTimeout 90 * time.Second)`,
      `${GO}/transport.go#L2093-L2097 and #L2238-L2256 (idle read loop: EOF → errServerClosedIdle, conn removed from the pool at #L2062)`,
      `${GO}/transport.go#L685-L729 (shouldRetryRequest), ${GO}/request.go#L1435-L1449 (isReplayable)`,
      `${GO}/transport.go#L869-L873 ("http: server closed idle connection")`,
      'https://github.com/golang/go/blob/a925402b62c06d1cfe2b345cba0b11fa06b8401d/src/net/http/transport.go (DefaultTransport; Transport doc: "Transport only retries a request upon encountering a network error if the connection has been already been used successfully and if the request is idempotent")',
      'net/http has no Keep-Alive response-header parsing (grep of go1.19.8 src/net/http: only h2_bundle.go lists the name)',
    ],
  },
  {
    name: 'httpclient4',
    label: 'Apache HttpClient 4.5 (PoolingHttpClientConnectionManager)',
    versions: 'HttpClient 4.5.14 (tag rel/v4.5.14), HttpCore 4.4.16',
    idleMs: null,
    honoursKeepAliveHeader: true,
    sendsKeepAlive: true,
    hintMode: 'replaces',
    hintRule: 'java',
    noticesIdleClose: true,
    staleCheckAfterMs: 2000,
    retriesStale: 'idempotent',
    staleErrors: [
      'org.apache.http.NoHttpResponseException',
      'failed to respond',
      'The target server failed to respond',
      'java.net.SocketException: Connection reset',
    ],
    setting: {
      name: 'HttpClientBuilder.setKeepAliveStrategy',
      example:
        'HttpClients.custom().setKeepAliveStrategy((response, context) -> { long hint = DefaultConnectionKeepAliveStrategy.INSTANCE.getKeepAliveDuration(response, context); return hint > 0 ? Math.min(hint, {ms}) : {ms}; }).build()',
      unit: 'ms',
    },
    note: 'Without a Keep-Alive header a pooled connection never expires; validateAfterInactivity (2000 ms) does a 1 ms read before reusing a connection idle that long, which catches a FIN but not a silent drop, and evictIdleConnections(t) sweeps only every t, so a connection can idle up to 2t.',
    h2: 'unconfirmed',
    sources: [
      `${HC4}/client/protocol/RequestClientConnControl.java (adds "Connection: keep-alive" to a request without a Connection header)`,
      `${HC4}/impl/conn/PoolingHttpClientConnectionManager.java#L156 (time to live -1), #L182-L183 (2 per route, 20 total, setValidateAfterInactivity(2000))`,
      `${HC4}/impl/client/DefaultConnectionKeepAliveStrategy.java#L55-L70 (timeout token × 1000, else -1 = indefinitely)`,
      `${HCORE4}/pool/AbstractConnPool.java#L254-L255 (validate after inactivity), ${HCORE4}/impl/BHttpConnectionBase.java#L345-L357 (isStale: 1-byte read, EOF → stale)`,
      `${HC4}/impl/client/DefaultHttpRequestRetryHandler.java#L121-L123 (3 retries, requestSentRetryEnabled false), #L154-L165, #L186-L188 (idempotent = not entity-enclosing)`,
      `${HC4}/impl/execchain/RetryExec.java#L115-L119 (NoHttpResponseException(host + " failed to respond")), ${HC4}/impl/conn/DefaultHttpResponseParser.java#L141`,
      `${HC4}/impl/client/HttpClientBuilder.java#L1225-L1228 and ${HC4}/impl/client/IdleConnectionEvictor.java#L61-L70 (evictor sleeps maxIdleTime between sweeps)`,
      JDK_CONNECTION_RESET,
    ],
  },
  {
    name: 'httpclient5',
    label: 'Apache HttpClient 5.x classic (PoolingHttpClientConnectionManager)',
    versions: 'HttpClient 5.6.4 (tag rel/v5.6.4)',
    idleMs: 180000,
    honoursKeepAliveHeader: true,
    sendsKeepAlive: true,
    hintMode: 'replaces',
    hintRule: 'java',
    noticesIdleClose: true,
    staleCheckAfterMs: 2000,
    retriesStale: 'idempotent',
    staleErrors: ['org.apache.hc.core5.http.NoHttpResponseException', 'failed to respond', 'java.net.SocketException: Connection reset'],
    setting: {
      name: 'ConnectionConfig.setIdleTimeout (5.6+)',
      example:
        'PoolingHttpClientConnectionManagerBuilder.create().setDefaultConnectionConfig(ConnectionConfig.custom().setIdleTimeout(Timeout.ofMilliseconds({ms})).build()).build()',
      unit: 'ms',
    },
    note: 'A Keep-Alive: timeout=N header replaces the 3-minute keep-alive (it can lengthen it), validateAfterInactivity (2 s) catches a FIN before reuse, and an idempotent request that failed with an I/O error is retried once, at once.',
    h2: 'unconfirmed',
    sources: [
      REQUEST_FORM_SEEN,
      `${HC5}/config/RequestConfig.java#L49 (DEFAULT_CONN_KEEP_ALIVE = 3 minutes)`,
      `${HC5}/impl/DefaultConnectionKeepAliveStrategy.java#L63-L79 (timeout token in seconds, else RequestConfig.getConnectionKeepAlive())`,
      `${HC5}/impl/io/PoolingHttpClientConnectionManager.java#L347-L350 (validateAfterInactivity null → 2 s), #L403-L431 (idleTimeout and stale check on lease), #L472-L494 (release: updateExpiry(keepAlive))`,
      `${HC5}/config/ConnectionConfig.java#L285 (setIdleTimeout, since 5.6, default undefined)`,
      `${HC5}/impl/DefaultHttpRequestRetryStrategy.java#L132-L145, #L166-L168, #L245-L246 (maxRetries 1, Method.isIdempotent; NoHttpResponseException is retriable); HttpRequestRetryStrategy.java#L90-L92 (no delay after an I/O error)`,
      `${HC5}/impl/classic/HttpRequestRetryExec.java#L162-L166 (target + " failed to respond")`,
      JDK_CONNECTION_RESET,
    ],
  },
  {
    name: 'okhttp',
    label: 'OkHttp (ConnectionPool)',
    versions: 'OkHttp 5.4.0 (tag parent-5.4.0)',
    idleMs: 300000,
    honoursKeepAliveHeader: false,
    sendsKeepAlive: true,
    hintMode: null,
    hintRule: null,
    noticesIdleClose: false,
    staleCheckAfterMs: 0,
    retriesStale: 'all',
    staleErrors: ['java.io.IOException: unexpected end of stream on', 'java.io.EOFException: \\n not found: limit=0'],
    setting: {
      name: 'ConnectionPool keepAliveDuration',
      example: 'new OkHttpClient.Builder().connectionPool(new ConnectionPool(5, {s}, TimeUnit.SECONDS)).build()',
      unit: 's',
    },
    note: 'Idle sockets are not read, so a server FIN is noticed only by the extensive health check (non-GET requests on a connection idle ≥ 10 s); retryOnConnectionFailure (default true) resends any request whose body is not one-shot, POST included.',
    h2: OKHTTP_H2_BEHAVIOUR,
    sources: [
      REQUEST_FORM_SEEN,
      `${OKHTTP}/ConnectionPool.kt#L31-L32 (KDoc: 5 idle connections, evicted after 5 minutes), #L80 (constructor() = this(5, 5, TimeUnit.MINUTES))`,
      `${OKHTTP}/internal/connection/RealConnection.kt#L300-L324 (isHealthy: socket read check only if doExtensiveChecks and idle ≥ IDLE_CONNECTION_HEALTHY_NS = 10 s, #L427)`,
      `${OKHTTP}/internal/connection/RealRoutePlanner.kt#L53 (doExtensiveHealthChecks = request.method != "GET")`,
      `${OKHTTP}/internal/http/RetryAndFollowUpInterceptor.kt#L133-L198 (recover: no method check; stops on one-shot body, ProtocolException, interrupt, certificate errors)`,
      `${OKHTTP}/OkHttpClient.kt#L593 (retryOnConnectionFailure = true)`,
      `${OKHTTP}/internal/http1/Http1ExchangeCodec.kt#L247-L252 (IOException("unexpected end of stream on $address", EOFException))`,
      "no Keep-Alive response-header parsing in okhttp/src (only the cache's hop-by-hop list); the EOFException text is Okio's, as quoted in https://github.com/square/okhttp/issues/2738",
    ],
  },
  {
    name: 'java-httpclient',
    label: 'Java java.net.http.HttpClient',
    versions: 'JDK 25.0.3 (Temurin); JDK 17.0.15 uses 1200 s (bytecode of jdk.internal.net.http.ConnectionPool)',
    idleMs: 30000,
    honoursKeepAliveHeader: false,
    sendsKeepAlive: 'unconfirmed',
    hintMode: null,
    hintRule: null,
    noticesIdleClose: true,
    staleCheckAfterMs: 0,
    retriesStale: 'idempotent',
    staleErrors: ['java.io.IOException: HTTP/1.1 header parser received no bytes', 'java.io.EOFException: EOF reached while reading'],
    setting: {
      name: 'jdk.httpclient.keepalive.timeout',
      example: 'java -Djdk.httpclient.keepalive.timeout={s} …',
      unit: 's',
    },
    note: 'JDK 17 keeps idle connections 1200 s; the expiry is counted from the release time truncated to the second, and only GET and HEAD are retried, once (all methods with -Djdk.httpclient.enableAllMethodRetry).',
    h2: 'unconfirmed',
    sources: [
      `${JDK25}/module-info.java:105-108 (jdk.httpclient.keepalive.timeout, default 30), jdk/internal/net/http/HttpClientImpl.java:112-113`,
      `${JDK25}/jdk/internal/net/http/ConnectionPool.java:416 (expiry = now truncated to seconds + keepAlive), :565-615 (CleanupTrigger: EOF or data on a pooled connection removes it)`,
      `${JDK25}/jdk/internal/net/http/Http1AsyncReceiver.java:485-497 (reused connection, no byte received → ConnectionExpiredException), :603 ("EOF reached while reading")`,
      `${JDK25}/jdk/internal/net/http/MultiExchange.java:491-541 (retry once; GET and HEAD only unless jdk.httpclient.enableAllMethodRetry)`,
      `${JDK25}/jdk/internal/net/http/Http1HeaderParser.java:97 ("HTTP/1.1 header parser received no bytes")`,
      'JDK 17.0.15: javap -c jdk.internal.net.http.ConnectionPool (sipush 1200 for jdk.httpclient.keepalive.timeout); https://github.com/typetools/jdk17u (fork of openjdk/jdk17u) ConnectionPool.java: getIntegerNetProperty("jdk.httpclient.keepalive.timeout", 1200)',
      'https://github.com/openjdk/jdk/blob/029d5c3cd578a90db7a74d28045b805c1750a31c/src/java.net.http/share/classes/module-info.java (default: 30; .h2 and .h3 overrides)',
    ],
  },
  {
    name: 'dotnet',
    label: '.NET HttpClient / SocketsHttpHandler',
    versions: 'dotnet/runtime main as indexed (HttpHandlerDefaults.cs@13d20664, HttpConnection.cs@000f1046); older releases used 2 minutes',
    idleMs: 60000,
    honoursKeepAliveHeader: true,
    sendsKeepAlive: 'unconfirmed',
    hintMode: 'shortens',
    hintRule: 'dotnet',
    noticesIdleClose: true,
    staleCheckAfterMs: 0,
    retriesStale: 'idempotent',
    staleErrors: ['An error occurred while sending the request.', 'The response ended prematurely.'],
    setting: {
      name: 'SocketsHttpHandler.PooledConnectionIdleTimeout',
      example: 'new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromMilliseconds({ms}) })',
      unit: 'ms',
    },
    note: 'The retry is not by method: a request without a body (or still waiting on Expect: 100-continue) is resent when a reused connection returns EOF before any byte, a request with a body is not, and an RST is never retried; the idle timeout is enforced by a sweep every timeout/4, so a connection can idle up to 1.25 × the setting.',
    h2: 'unconfirmed',
    sources: [
      `${DOTNET}/13d2066411b51aa6e1f90834846a3dcc4f8eca3d/src/libraries/Common/src/System/Net/Http/HttpHandlerDefaults.cs (DefaultPooledConnectionIdleTimeout = TimeSpan.FromMinutes(1))`,
      `${DOTNET}/000f104699a6f09484152cfd92534bec53056008/src/libraries/System.Net.Http/src/System/Net/Http/SocketsHttpHandler/HttpConnection.cs (PrepareForReuse: read-ahead/poll rejects a connection that saw EOF; CheckKeepAliveTimeoutExceeded; _canRetry only when no response byte and no request body)`,
      'dotnet/runtime HttpConnection.cs ProcessKeepAliveHeader (as indexed): timeout ≤ 1 → no reuse, else _keepAliveTimeoutSeconds = timeout − 1',
      'dotnet/runtime HttpConnectionPoolManager.cs (as indexed): scavenge period = PooledConnectionIdleTimeout / 4, at least 1 s',
      `${DOTNET}/0074b9298ffdf737a43cd2b348bd498574a3a20d/src/libraries/System.Net.Http/src/Resources/Strings.resx (net_http_client_execution_error "An error occurred while sending the request.", net_http_invalid_response_premature_eof "The response ended prematurely.")`,
    ],
  },
  {
    name: 'urllib3',
    label: 'Python urllib3 PoolManager / requests Session',
    versions: 'urllib3 2.7.0 (tag 2.7.0), requests 2.34.2, CPython 3.11.7 http.client',
    idleMs: null,
    honoursKeepAliveHeader: false,
    sendsKeepAlive: true,
    hintMode: null,
    hintRule: null,
    noticesIdleClose: true,
    staleCheckAfterMs: 0,
    retriesStale: 'none',
    staleErrors: [
      "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))",
      "('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))",
    ],
    setting: {
      name: "the pool's idle limit (urllib3 has none: close the session yourself)",
      example: 'if (time.monotonic() - last_used) * 1000 > {ms}: session.close()',
      unit: 'ms',
    },
    note: 'requests mounts HTTPAdapter with Retry(0, read=False), so nothing is retried, while plain urllib3 (Retry.DEFAULT = Retry(3)) retries the idempotent methods HEAD, GET, PUT, DELETE, OPTIONS, TRACE; before reuse a zero-timeout poll replaces a connection the server has closed.',
    h2: null,
    sources: [
      'urllib3 2.7.0 util/ssl_.py:19 (ALPN_PROTOCOLS = ["http/1.1"]); HTTP/2 only after urllib3.http2.inject_into_urllib3() (http2/__init__.py:15, experimental, needs h2 4.x)',
      REQUEST_FORM_SEEN,
      `${URLLIB3}/connectionpool.py#L287-L290 (_get_conn: is_connection_dropped → close, new connection)`,
      `${URLLIB3}/connection.py#L352-L355 (is_connected: not wait_for_read(sock, timeout=0.0))`,
      `${URLLIB3}/connectionpool.py#L838-L844 (OSError/HTTPException → ProtocolError("Connection aborted.", e); retries.increment)`,
      `${URLLIB3}/util/retry.py#L197-L199 (DEFAULT_ALLOWED_METHODS), #L495-L500 (read errors retried only for allowed methods), #L557 (Retry.DEFAULT = Retry(3))`,
      'no idle timeout or Keep-Alive header handling in urllib3 2.7.0 src (grep: keep-alive appears only in make_headers)',
      'requests 2.34.2 requests/adapters.py:81, 208-209 (DEFAULT_RETRIES = 0 → Retry(0, read=False))',
      'CPython 3.11.7 Lib/http/client.py:294 (RemoteDisconnected("Remote end closed connection without response")), :1531 (class RemoteDisconnected(ConnectionResetError, BadStatusLine))',
    ],
  },
  {
    name: 'curl',
    label: 'libcurl / curl CLI',
    versions: 'curl 8.21.0 (tag curl-8_21_0); CURLOPT_MAXAGE_CONN since 7.65.0',
    idleMs: 118000,
    honoursKeepAliveHeader: false,
    sendsKeepAlive: false,
    hintMode: null,
    hintRule: null,
    noticesIdleClose: true,
    staleCheckAfterMs: 0,
    retriesStale: 'all',
    staleErrors: [
      'curl: (55) Connection died, tried 5 times before giving up',
      'curl: (56) Recv failure: Connection reset by peer',
      'curl: (52) Empty reply from server',
    ],
    setting: { name: 'CURLOPT_MAXAGE_CONN', example: 'curl_easy_setopt(curl, CURLOPT_MAXAGE_CONN, {s}L);', unit: 's' },
    note: 'Before reuse libcurl checks the idle age and polls the socket ("seems to be dead"), and a reused connection that returns no byte is retried on a fresh one up to 5 times for any HTTP method, so curl hides the race; the CLI keeps connections only within one invocation.',
    h2: CURL_H2_BEHAVIOUR,
    sources: [
      REQUEST_FORM_SEEN,
      `${CURL}/lib/url.c#L424 (conn_max_idle_ms = 118 * 1000), #L575-L603 (conn_maxage: "Too old connection"), #L608-L657 (Curl_conn_seems_dead)`,
      `${CURL}/lib/transfer.c#L608-L670 (Curl_retry_request: reused, 0 bytes, HTTP → retry; CONN_MAX_RETRIES 5)`,
      `${CURL}/docs/libcurl/opts/CURLOPT_MAXAGE_CONN.md (default 118 seconds, Added-in 7.65.0)`,
      `${CURL}/lib/http.c#L1676 ("Empty reply from server"), ${CURL}/lib/cf-socket.c#L1618 ("Recv failure: %s"), ${CURL}/src/tool_operate.c#L619 ("curl: (%d) %s"), include/curl/curl.h#L579-L584 (52, 55, 56)`,
      'no Keep-Alive timeout parsing in lib/http.c (the name appears only in the HTTP/2 forbidden-header list, #L4878)',
    ],
  },
  {
    name: 'reactor-netty',
    label: 'reactor-netty HttpClient (ConnectionProvider), Spring WebClient',
    versions: 'reactor-netty 1.3.6 (tag v1.3.6)',
    idleMs: null,
    honoursKeepAliveHeader: false,
    sendsKeepAlive: 'unconfirmed',
    hintMode: null,
    hintRule: null,
    noticesIdleClose: 'unconfirmed',
    staleCheckAfterMs: 0,
    retriesStale: 'none',
    staleErrors: ['reactor.netty.http.client.PrematureCloseException: Connection prematurely closed BEFORE response', 'Connection reset by peer'],
    setting: {
      name: 'ConnectionProvider.Builder.maxIdleTime',
      example: 'ConnectionProvider.builder("pool").maxIdleTime(Duration.ofMillis({ms})).build()',
      unit: 'ms',
    },
    note: 'The pool evicts a connection whose channel is no longer active, but whether an idle pooled channel reads (and so sees the FIN) is not settled by the source read; the built-in retry fires only when the connection failed before the request headers were sent, which a stale connection does not.',
    h2: 'unconfirmed',
    sources: [
      `${REACTOR}/reactor-netty-core/src/main/java/reactor/netty/resources/ConnectionProvider.java#L68-L73 (DEFAULT_POOL_MAX_IDLE_TIME = reactor.netty.pool.maxIdleTime, default -1)`,
      `${REACTOR}/reactor-netty-core/src/main/java/reactor/netty/resources/PooledConnectionProvider.java#L631-L632 (evict when maxIdleTime != -1 && idleTime >= maxIdleTime)`,
      `${REACTOR}/reactor-netty-core/src/main/java/reactor/netty/resources/DefaultPooledConnectionProvider.java#L624-L625 (evict !channel.isActive() || !isPersistent())`,
      `${REACTOR}/reactor-netty-http/src/main/java/reactor/netty/http/client/HttpClientConnect.java#L378-L408 (retry only if !hasSentHeaders())`,
      `${REACTOR}/reactor-netty-http/src/main/java/reactor/netty/http/client/HttpClientOperations.java#L402 ("Connection prematurely closed BEFORE response")`,
      'no Keep-Alive response-header handling in reactor-netty-http/src/main/java/reactor/netty/http/client (grep)',
    ],
  },
];

/** A client as the HTTP/2 section of docs/clients.md lists it: its name, what is run, and its HTTP/2 behaviour. */
export interface H2Client {
  readonly name: string;
  readonly label: string;
  readonly h2: H2Behaviour;
}

/** Every client with known HTTP/2 behaviour: the profiles above that speak it, then the HTTP/2-only ones (node-http2, grpc-go, grpc-js). */
export const H2_CLIENTS: readonly H2Client[] = [
  ...CLIENT_PROFILES.flatMap((p) => (p.h2 === null || p.h2 === 'unconfirmed' ? [] : [{ name: p.name, label: p.label, h2: p.h2 }])),
  ...H2_ONLY_PROFILES,
];
