/**
 * What the error texts users paste mean on the wire, which scenario reproduces each, and
 * what to change. Each text is quoted as clients print it; where each client raises it is
 * cited in src/catalog/clientProfiles.ts (staleErrors and sources) and docs/clients.md.
 */
export interface ErrorExplanation {
  readonly id: string;
  /** Lower-case fragments that identify the error in what the user typed. */
  readonly matches: readonly string[];
  readonly seenIn: string;
  readonly wire: string;
  readonly scenario: string;
  readonly fix: string;
}

const STALE_FIX =
  "Keep the client pool's idle timeout below the server's (measure it: keepalive-probe run <url> -s idle-timeout), and retry idempotent requests once on a fresh connection.";

export const ERROR_CATALOG: readonly ErrorExplanation[] = [
  {
    id: 'ECONNRESET',
    matches: ['econnreset', 'connection reset by peer', 'read econnreset'],
    seenIn: 'Node (read ECONNRESET), nginx upstream logs ("recv() failed (104: Connection reset by peer)"), most clients',
    wire: "The server (or a proxy) answered with a TCP RST. On a kept-alive connection this is usually a request written just before, or just after, the server closed the idle connection: the server's kernel resets data arriving on a closed socket.",
    scenario:
      "timeout-mismatch (idle past the server's close, then reuse; serverClose silent-drop when no FIN came first); stale-race (how close to the idle timeout requests start failing); idle-timeout shows whether the server closes with FIN or RST",
    fix: STALE_FIX,
  },
  {
    id: 'EPIPE',
    matches: ['epipe', 'broken pipe', 'write epipe'],
    seenIn: 'Node (write EPIPE), Go ("write: broken pipe"), Java ("Broken pipe")',
    wire: 'A write on a connection whose far end has already reset it: the first write after the server closed drew an RST, and the next write fails locally with EPIPE (Linux: an RST received in CLOSE_WAIT sets EPIPE on the socket, tcp_reset() in net/ipv4/tcp_input.c).',
    scenario: 'timeout-mismatch (writeAgainOutcome EPIPE)',
    fix: STALE_FIX,
  },
  {
    id: 'socket hang up',
    matches: ['socket hang up'],
    seenIn: 'Node http.Agent, axios, node-fetch (code ECONNRESET)',
    wire: 'The stream ended (the server\'s FIN) after the request was written and before any response byte: typically a pooled connection the server closed while the request was on its way, or a server that half-closed and swallowed it. An RST shows as "read ECONNRESET" instead (lib/_http_client.js socketOnEnd/socketCloseListener, v20.20.2).',
    scenario: 'timeout-mismatch (outcome premature-close; serverClose full or half), stale-race',
    fix: `${STALE_FIX} Node: keep the agent's timeout (agentkeepalive: freeSocketTimeout) below the server's idle timeout; retry when req.reusedSocket is true.`,
  },
  {
    id: 'other side closed',
    matches: ['other side closed', 'und_err_socket', 'fetch failed'],
    seenIn: 'undici / Node fetch (TypeError: fetch failed, cause SocketError: other side closed, UND_ERR_SOCKET)',
    wire: 'The server sent FIN on a pooled connection before or while the request was answered. An RST shows differently: "fetch failed" with cause "read ECONNRESET" (undici 6.24.1 lib/dispatcher/client-h1.js:668-702). "fetch failed" alone also covers DNS and connect errors: read its cause.',
    scenario: 'timeout-mismatch; stale-race; request-cap (a server that closes at its cap without Connection: close)',
    fix: `${STALE_FIX} undici: keepAliveTimeout below the server's; a server that sends "Keep-Alive: timeout=" lets undici adapt.`,
  },
  {
    id: 'NoHttpResponseException',
    matches: ['nohttpresponseexception', 'failed to respond'],
    seenIn: 'Apache HttpClient 4.x / 5.x ("host:port failed to respond")',
    wire: 'The request went out on a pooled connection the server had already half-closed (FIN); the client read end-of-stream instead of a response.',
    scenario: 'timeout-mismatch (outcome premature-close)',
    fix: `${STALE_FIX} HttpClient: evict idle connections (evictIdleConnections) below the server's idle timeout, or validate after inactivity.`,
  },
  {
    id: 'PrematureCloseException',
    matches: ['prematurecloseexception', 'connection prematurely closed'],
    seenIn: 'reactor-netty / Spring WebClient / Spring Cloud Gateway ("Connection prematurely closed BEFORE response")',
    wire: "The server closed a pooled connection (FIN) and the client sent its request on it anyway; the server's kernel answers that request with RST.",
    scenario: 'timeout-mismatch',
    fix: `${STALE_FIX} reactor-netty: set the pool's maxIdleTime below the server's keep-alive timeout.`,
  },
  {
    id: 'unexpected end of stream',
    matches: [
      'unexpected end of stream',
      'remotedisconnected',
      'remote end closed connection without response',
      'server closed idle connection',
      'header parser received no bytes',
    ],
    seenIn:
      'OkHttp ("unexpected end of stream"), Python requests/urllib3 (RemoteDisconnected), Go ("http: server closed idle connection", EOF), Java HttpClient ("header parser received no bytes")',
    wire: 'End of stream where a response was expected: the server had closed the pooled connection (FIN) before or as the request was sent.',
    scenario: 'timeout-mismatch (outcome premature-close)',
    fix: `${STALE_FIX} OkHttp: ConnectionPool keepAliveDuration; Go: Transport.IdleConnTimeout; Java HttpClient: jdk.httpclient.keepalive.timeout.`,
  },
  {
    id: '502',
    matches: ['502', 'bad gateway', 'upstream prematurely closed'],
    seenIn: 'a load balancer or reverse proxy (AWS ALB, nginx "upstream prematurely closed connection")',
    wire: "The proxy reused an idle connection to the backend that the backend had just closed: the backend's idle timeout is shorter than the proxy's.",
    scenario:
      "idle-timeout against the backend, compared with the proxy's idle timeout (--behind aws-alb, --behind nginx-upstream), or both measured: --hop lb=<proxy-url> --hop app=<backend-url>",
    fix: 'Make the backend keep idle connections open longer than the proxy in front of it (AWS ALB: 60 s by default; nginx upstream keepalive_timeout: 60 s by default). Check it with keepalive-probe run <backend-url> --behind aws-alb, or keepalive-probe run --hop lb=<proxy-url> --hop app=<backend-url>.',
  },
  {
    id: 'EADDRNOTAVAIL',
    matches: ['eaddrnotavail', 'cannot assign requested address', 'address not available'],
    seenIn: 'any client opening many short connections (connect EADDRNOTAVAIL; Go "dial tcp ...: connect: cannot assign requested address")',
    wire: 'No free ephemeral port for a new connection to that server address and port: each connection the client closed first holds its port in TIME_WAIT for 60 s on Linux, so a client opening a new connection per request runs out.',
    scenario: "short-connections (TIME_WAIT per side for a new connection per request vs one kept-alive connection; the advice quotes this host's port range)",
    fix: 'Reuse connections (keep-alive on, one client or pool shared across requests, not one per request). If the client must not keep connections, let the server close first (send Connection: close) so TIME_WAIT lands on the server.',
  },
];

/** The entries whose fragments appear in `text` (case-insensitive). */
export function findExplanations(text: string): ErrorExplanation[] {
  const lower = text.toLowerCase();
  return ERROR_CATALOG.filter((e) => e.id.toLowerCase() === lower || e.matches.some((m) => lower.includes(m)));
}
