/**
 * What the error texts users paste mean on the wire, which scenario reproduces each, and
 * what to change. Each text is quoted as clients print it; where each client raises a stale
 * connection's error is cited in src/catalog/clientProfiles.ts (staleErrors and sources) and
 * docs/clients.md, and the sources of the other texts are cited next to their entries below.
 * "observed" means printed by that client on this project's Linux host (Node 20.20.2, Go 1.19.8,
 * JDK 17 and 25, CPython 3.11.7 with urllib3 2.7.0 and requests 2.34.2, curl 7.88.1).
 * test/explainCoverage.test.ts holds this list to every profile's error text and to every name
 * the probe's reports print (request outcomes, close kinds, probe error codes, serverClose).
 */

/** A lower-case fragment of the text, or a lower-case pattern (no `g` flag) where host, port or wording varies; both meet the text lower-cased. */
export type ErrorMatcher = string | RegExp;

export interface ErrorExplanation {
  readonly id: string;
  /** What identifies the error in what the user typed. */
  readonly matches: readonly ErrorMatcher[];
  /**
   * Fragments too common to decide on their own ("fetch failed", "EOF", "timed out"): they
   * count only when no entry's `matches` does, so a text with a telling cause gets that entry alone.
   */
  readonly vague?: readonly ErrorMatcher[];
  /**
   * The probe's own names for it, as its reports print them (request outcome, close kind,
   * probe error code, serverClose mode). A hyphenated name also matches inside a text
   * ("[connect-refused]"); a single word ("timeout", "half") only as the whole text.
   */
  readonly names?: readonly string[];
  readonly seenIn: string;
  readonly wire: string;
  readonly scenario: string;
  readonly fix: string;
}

const STALE_FIX =
  "Keep the client pool's idle timeout below the server's (measure it: keepalive-probe run <url> -s idle-timeout), and retry idempotent requests once on a fresh connection.";

/** What a connect error is not: said once for every connect-phase entry. */
const NOT_KEEPALIVE =
  'Not a keep-alive mismatch: no connection was ever established, so no idle timeout is involved (a pool opening a new connection meets it the same way).';

/** The scenario line of an error that stops the probe before any scenario runs. */
const BEFORE_ANY_SCENARIO = 'any (the run stops at its first connection, exit code 3)';

export const ERROR_CATALOG: readonly ErrorExplanation[] = [
  {
    id: 'ECONNRESET',
    // "Connection reset": JDK NioSocketImpl (clientProfiles.ts JDK_CONNECTION_RESET); "forcibly closed by
    // the remote host": the Windows text of WSAECONNRESET (10054), which .NET and Go on Windows print.
    matches: ['econnreset', /connection reset(?! while connecting)/, 'econnaborted', 'forcibly closed by the remote host'],
    names: ['reset-on-read', 'server-reset', 'reset', 'rst'],
    seenIn:
      'Node (read ECONNRESET), Java ("java.net.SocketException: Connection reset"), Go ("read: connection reset by peer"), Python ("[Errno 104] Connection reset by peer"), curl ("(56) Recv failure: Connection reset by peer"), nginx upstream logs ("recv() failed (104: Connection reset by peer)"), Windows ("An existing connection was forcibly closed by the remote host"); the probe: reset-on-read, server-reset',
    wire: "The server (or a proxy) answered with a TCP RST. On a kept-alive connection this is usually a request written just before, or just after, the server closed the idle connection: the server's kernel resets data arriving on a closed socket.",
    scenario:
      "timeout-mismatch (idle past the server's close, then reuse; serverClose silent-drop when no FIN came first); stale-race (how close to the idle timeout requests start failing); idle-timeout shows whether the server closes with FIN or RST",
    fix: STALE_FIX,
  },
  {
    id: 'EPIPE',
    matches: ['epipe', 'broken pipe', 'write epipe'],
    names: ['write-epipe'],
    seenIn: 'Node (write EPIPE), Go ("write: broken pipe"), Java ("Broken pipe"); the probe: write-epipe',
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
    matches: ['other side closed', 'und_err_socket'],
    // Alone, "fetch failed" says nothing: undici wraps every error in it (lib/web/fetch/index.js#L230).
    vague: ['fetch failed'],
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
      'eof reached while reading',
      // Okio's EOFException as OkHttp users paste it: a literal backslash-n (clientProfiles.ts okhttp).
      /\\n not found: limit=/,
      'response ended prematurely',
      // curl 8.21.0 lib/http.c#L1676 (52), lib/multi.c CONN_MAX_RETRIES (55): libcurl retried a dead reused connection 5 times.
      'empty reply from server',
      'connection died, tried',
    ],
    // Go prints a bare EOF for a request (a POST) it would not retry ("Post \"…\": EOF", clientProfiles.ts go);
    // .NET's outer HttpRequestException text wraps every send error (Strings.resx net_http_client_execution_error).
    vague: [/\beof\b/, 'an error occurred while sending the request'],
    seenIn:
      'OkHttp ("unexpected end of stream on …", "\\n not found: limit=0"), Python requests/urllib3 (RemoteDisconnected), Go ("http: server closed idle connection", EOF), Java HttpClient ("header parser received no bytes", "EOF reached while reading"), .NET ("The response ended prematurely.", inside "An error occurred while sending the request."), curl ("(52) Empty reply from server", "(55) Connection died, tried 5 times before giving up")',
    wire: 'End of stream where a response was expected: the server had closed the pooled connection (FIN) before or as the request was sent. A bare "EOF" or .NET\'s "An error occurred while sending the request." also wrap other failures: read the inner error.',
    scenario: 'timeout-mismatch (outcome premature-close)',
    fix: `${STALE_FIX} OkHttp: ConnectionPool keepAliveDuration; Go: Transport.IdleConnTimeout; Java HttpClient: jdk.httpclient.keepalive.timeout; .NET: SocketsHttpHandler.PooledConnectionIdleTimeout; curl: CURLOPT_MAXAGE_CONN.`,
  },
  {
    id: 'premature close',
    // Node's ERR_STREAM_PREMATURE_CLOSE ("Premature close", lib/internal/errors.js v20.20.2), which node-fetch and got surface.
    matches: [/premature[ -]close/, 'err_stream_premature_close'],
    names: ['premature-close', 'not-sent'],
    seenIn:
      'the probe (outcome premature-close: the FIN came after the request was written, before any response byte; not-sent: the connection was already torn down, nothing was written), Node streams / node-fetch / got ("Premature close", ERR_STREAM_PREMATURE_CLOSE); each client names it its own way: socket hang up, other side closed, NoHttpResponseException, unexpected end of stream, PrematureCloseException',
    wire: "The server closed the kept-alive connection (FIN) and the request was written on it anyway, or as the FIN was on its way. A server that closed fully answers the request with an RST (a second write then gets EPIPE); one that only half-closed reads it and never answers. This is the keep-alive race: the client's idle limit is not below the server's.",
    scenario: 'timeout-mismatch (outcome premature-close, serverClose full or half), stale-race (failureWindowMs, safeClientIdleMs)',
    fix: STALE_FIX,
  },
  {
    id: 'truncated',
    // Go io.ErrUnexpectedEOF "unexpected EOF" (go1.19.8 src/io/io.go:48); CPython 3.11.7 http.client.IncompleteRead
    // (Lib/http/client.py:1493), urllib3 "Connection broken: IncompleteRead"; curl 7.88.1 libcurl "transfer closed with %ld bytes remaining to read" (18).
    matches: ['unexpected eof', 'incompleteread', 'transfer closed with', 'in the middle of its response', 'in the middle of response'],
    names: ['truncated', 'truncated-response'],
    seenIn:
      'the probe (truncated, truncated-response), Go ("unexpected EOF"), Python ("IncompleteRead"), curl ("(18) transfer closed with N bytes remaining to read")',
    wire: 'The server closed the connection (FIN or RST) in the middle of a response: after its head, before the body the head announced. Not the idle race (that one ends before any response byte): a server that dies, hits a body deadline, or announces a Content-Length it does not send.',
    scenario: 'any scenario shows it in the timeline (end: truncated-response); repeat the request with curl -v to see where the body stops',
    fix: "Find why the server stops mid-response (its error log, a proxy's body or send timeout, a wrong Content-Length); keep-alive settings do not cause it.",
  },
  {
    id: '502',
    matches: [/\b502\b/, 'bad gateway', 'upstream prematurely closed'],
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
  {
    id: 'ECONNREFUSED',
    // Node: "connect ECONNREFUSED 127.0.0.1:80" (lib/internal/errors.js exceptionWithHostPort, "${syscall} ${code} ${address}:${port}"; observed).
    // Go: "dial tcp 127.0.0.1:8080: connect: connection refused" (net.OpError.Error, go1.19.8 src/net/net.go:473-494;
    //   syscall/zerrors_linux_amd64.go:1490 "connection refused"; observed); Go on Windows: "connectex: No connection could be made…".
    // Java: "java.net.ConnectException: Connection refused" (OpenJDK src/java.base/unix/native/libnio/ch/Net.c handleSocketError:
    //   ECONNREFUSED → ConnectException with strerror; observed on JDK 17 and 25); HttpClient 4.5 HttpHostConnectException
    //   ("Connect to host:port [addresses] failed: Connection refused", DefaultHttpClientConnectionOperator; "Connection to host refused" before 4.3).
    // Python: urllib3 2.7.0 connection.py:218-221 NewConnectionError("Failed to establish a new connection: [Errno 111] Connection refused"),
    //   wrapped by requests in ConnectionError("…Max retries exceeded…"); observed.
    // curl: "(7) Failed to connect to host port 80 after 0 ms: …" (lib/connect.c failf), which older builds end with the OS text "Connection refused".
    // .NET: "Connection refused (localhost:80)" (ConnectHelper.CreateWrappedException: $"{error.Message} ({host}:{port})",
    //   dotnet/runtime src/libraries/System.Net.Http/src/System/Net/Http/SocketsHttpHandler/ConnectHelper.cs); on Windows the
    //   SocketException text of WSAECONNREFUSED (10061) "No connection could be made because the target machine actively refused it".
    matches: ['econnrefused', 'connection refused', 'actively refused', 'httphostconnectexception', 'wsaeconnrefused'],
    names: ['connect-refused'],
    seenIn:
      'Node ("connect ECONNREFUSED 127.0.0.1:80"), Go ("dial tcp …: connect: connection refused"), Java ("java.net.ConnectException: Connection refused", HttpClient HttpHostConnectException), Python ("NewConnectionError … [Errno 111] Connection refused" in requests.exceptions.ConnectionError), curl ("(7) Failed to connect to … Connection refused"), .NET ("Connection refused (host:80)"; Windows: "No connection could be made because the target machine actively refused it"); the probe: [connect-refused]',
    wire: `The SYN was answered with an RST: the host is up but nothing listens on that port (the server is down or restarting, listens on another port or only on 127.0.0.1, or a firewall rejects). ${NOT_KEEPALIVE}`,
    scenario: BEFORE_ANY_SCENARIO,
    fix: 'Check that the server runs and listens on that address and port (ss -ltnp on its host; 0.0.0.0 or the right interface, not 127.0.0.1 only), that the URL, port and any proxy settings are right, and that no firewall rejects it. In a container or Kubernetes: the published port, the Service targetPort, and that the pod is ready.',
  },
  {
    id: 'connect timeout',
    // Node: "connect ETIMEDOUT 10.0.0.1:80" (exceptionWithHostPort), ERR_SOCKET_CONNECTION_TIMEOUT (autoSelectFamily, lib/net.js);
    //   undici: ConnectTimeoutError "Connect Timeout Error (attempted address: host:port, timeout: 10000ms)", UND_ERR_CONNECT_TIMEOUT
    //   (lib/core/connect.js, lib/core/errors.js; in the Node 20.20.2 binary).
    // Go: "dial tcp 10.0.0.1:80: i/o timeout" (internal/poll/fd.go:60, net/net.go:600), "connect: connection timed out" (errno 110).
    // Java: "java.net.SocketTimeoutException: Connect timed out" (JDK 25 sun/nio/ch/NioSocketImpl.java:547; "connect timed out" in
    //   JDK 8's PlainSocketImpl), "java.net.ConnectException: Connection timed out" (Net.c, ETIMEDOUT), HttpClient
    //   "HttpConnectTimeoutException: HTTP connect timed out" (jdk/internal/net/http/MultiExchange.java:618), HttpClient 4.x/5.x
    //   ConnectTimeoutException ("Connect to host:port [addresses] failed: connect timed out").
    // Python: urllib3 2.7.0 connection.py:213-216 ConnectTimeoutError("Connection to host timed out. (connect timeout=3)"),
    //   requests.exceptions.ConnectTimeout; "[Errno 110] Connection timed out".
    // curl: (28) "Failed to connect to host port 80 after 3001 ms: Timeout was reached" (curl 8 lib/connect.c), "Connection timed out
    //   after 3001 milliseconds" / "Connection timeout after 3001 ms" (strings of libcurl 7.88.1).
    // .NET: "Connection timed out (host:80)" (ConnectHelper, as above); Windows WSAETIMEDOUT (10060) "A connection attempt failed because
    //   the connected party did not properly respond after a period of time…".
    matches: [
      'connect etimedout',
      'connecttimeout',
      'connect timeout error',
      'und_err_connect_timeout',
      'err_socket_connection_timeout',
      'connect timed out',
      'connection timed out',
      'connection timeout after',
      'connect timeout=',
      /dial tcp.*i\/o timeout/,
      /connection to \S+ timed out/,
      /failed to connect to .* timeout was reached/,
      'did not properly respond after a period of time',
    ],
    vague: ['etimedout', 'timed out', 'i/o timeout'],
    names: ['connect-timeout'],
    seenIn:
      'Node ("connect ETIMEDOUT 10.0.0.1:80"; fetch: ConnectTimeoutError, UND_ERR_CONNECT_TIMEOUT), Go ("dial tcp …: i/o timeout"), Java ("java.net.SocketTimeoutException: Connect timed out", HttpConnectTimeoutException, HttpClient ConnectTimeoutException), Python ("ConnectTimeoutError … Connection to host timed out. (connect timeout=3)", requests ConnectTimeout), curl ("(28) Failed to connect to … Timeout was reached", "Connection timed out after N milliseconds"), .NET ("Connection timed out (host:80)"; Windows: "did not properly respond after a period of time"); the probe: [connect-timeout]',
    wire: `The SYN got no answer at all: a firewall or security group drops it, the address is wrong or not routed back, or the server's accept queue is full (a SYN flood or a server far behind). ${NOT_KEEPALIVE}`,
    scenario: `${BEFORE_ANY_SCENARIO} (its connect deadline: --connect-timeout)`,
    fix: "Check the address the name resolves to, firewalls and security groups (inbound on the server, outbound on the client), routes and NAT between them; nc -vz host port from the client host. If it happens only under load: the server's listen backlog (somaxconn) and SYN queue.",
  },
  {
    id: 'EHOSTUNREACH',
    // Node: "connect EHOSTUNREACH …" / "connect ENETUNREACH …" (exceptionWithHostPort). Go: "connect: no route to host",
    // "connect: network is unreachable" (go1.19.8 syscall/zerrors_linux_amd64.go:1492, :1480). Java: NoRouteToHostException
    // (Net.c: EHOSTUNREACH; "Host unreachable" in JDK 8's PlainSocketImpl). Python "[Errno 113] No route to host",
    // "[Errno 101] Network is unreachable". Windows WSAEHOSTUNREACH / WSAENETUNREACH: "A socket operation was attempted to an unreachable host/network."
    matches: [
      'ehostunreach',
      'enetunreach',
      'no route to host',
      'network is unreachable',
      'noroutetohostexception',
      'host unreachable',
      'attempted to an unreachable',
    ],
    names: ['connect-unreachable'],
    seenIn:
      'Node ("connect EHOSTUNREACH 10.0.0.1:80", ENETUNREACH), Go ("connect: no route to host", "network is unreachable"), Java ("java.net.NoRouteToHostException: No route to host"), Python ("[Errno 113] No route to host"), curl ("(7) Failed to connect to …: No route to host"), .NET ("No route to host (host:80)"); the probe: [connect-unreachable]',
    wire: `No path to the address: the client host has no route to that network, or a router or firewall answered with ICMP unreachable (many firewalls reject this way). ${NOT_KEEPALIVE}`,
    scenario: BEFORE_ANY_SCENARIO,
    fix: "Check the address (an internal address from outside the network, IPv6 without IPv6 routing), the client host's routes (ip route get <address>), VPN or VPC peering, and firewalls that reject with ICMP.",
  },
  {
    id: 'DNS failure',
    // Node: "getaddrinfo ENOTFOUND host" / "getaddrinfo EAI_AGAIN host" (lib/internal/errors.js dnsException; ENOTFOUND observed).
    // Go: "dial tcp: lookup host on 10.0.0.53:53: no such host" (net/net.go:621 errNoSuchHost, :634-646 DNSError.Error; observed).
    // Java: "java.net.UnknownHostException: host" (java/net/InetAddress.java:909; observed), message "host: Name or service not known" on some paths.
    // Python: urllib3 2.7.0 exceptions.py:166-170 NameResolutionError("Failed to resolve 'host' ([Errno -2] Name or service not known)")
    //   (observed); "[Errno -3] Temporary failure in name resolution" (glibc EAI_AGAIN); macOS "nodename nor servname provided".
    // curl: "(6) Could not resolve host: host" (observed). .NET: "Name or service not known (host:80)" (ConnectHelper); Windows "No such host is known."
    matches: [
      'enotfound',
      'eai_again',
      'getaddrinfo',
      'no such host',
      'unknownhostexception',
      'name or service not known',
      'temporary failure in name resolution',
      'nodename nor servname provided',
      'name does not resolve',
      'could not resolve host',
      'nameresolutionerror',
      'failed to resolve',
    ],
    names: ['dns-not-found', 'dns-temporary'],
    seenIn:
      'Node ("getaddrinfo ENOTFOUND host", EAI_AGAIN), Go ("lookup host …: no such host"), Java ("java.net.UnknownHostException: host"), Python ("NameResolutionError … [Errno -2] Name or service not known", "Temporary failure in name resolution"), curl ("(6) Could not resolve host: host"), .NET ("Name or service not known (host:80)"; Windows: "No such host is known."); the probe: [dns-not-found], [dns-temporary]',
    wire: `The name never became an address, so no packet went to the server. ENOTFOUND / "no such host" / "Name or service not known": the resolver says the name does not exist; EAI_AGAIN / "Temporary failure in name resolution": no resolver answered in time. ${NOT_KEEPALIVE}`,
    scenario: `${BEFORE_ANY_SCENARIO}; --resolve host:port:address probes a server by address while keeping its name`,
    fix: 'Check the spelling of the host, /etc/resolv.conf and search domains on the client host, the DNS record (dig host), and for EAI_AGAIN the resolver itself (reachable? overloaded?). In Kubernetes: the service name and namespace, and CoreDNS.',
  },
  {
    id: 'connect failed',
    // curl 7.88.1 prints curl_easy_strerror(CURLE_COULDNT_CONNECT) "Couldn't connect to server" after "Failed to connect to … ms:"
    // (observed for a refused connect); Java's HttpClient throws a bare java.net.ConnectException (no message) for a refused
    // connect and for a failed DNS lookup alike (observed on JDK 17 and 25).
    matches: ["couldn't connect to server"],
    vague: [/curl: \(7\)/, 'failed to connect to', 'connectexception'],
    names: ['connect-failed'],
    seenIn:
      'curl ("(7) Failed to connect to host port 80 after 0 ms: Couldn\'t connect to server"), Java HttpClient (a bare "java.net.ConnectException"), the probe: [connect-failed]',
    wire: `The connection could not be opened, and the text does not say why: refused, unreachable, timed out or a failed DNS lookup. ${NOT_KEEPALIVE}`,
    scenario: `${BEFORE_ANY_SCENARIO}: its message names the cause (refused, unreachable, timed out, cannot resolve)`,
    fix: "Read the cause: curl -v shows the address tried and the error; for Java, the exception's cause chain. Then see the entry for that cause (keepalive-probe explain ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, ENOTFOUND).",
  },
  {
    id: 'TLS handshake failed',
    // The probe's own text and codes (src/wire/connectError.ts: Node's ERR_SSL_* / ERR_TLS_* codes and OpenSSL's "SSL routines");
    // SSLHandshakeException is javax.net.ssl's class.
    matches: ['tls handshake failed', 'ssl routines', 'err_ssl_', 'err_tls_', 'sslhandshakeexception'],
    names: ['tls-failed'],
    seenIn:
      'the probe ("TLS handshake failed with host:443: …" [tls-failed]), Node (ERR_SSL_*, ERR_TLS_* codes, OpenSSL "SSL routines"), Java (javax.net.ssl.SSLHandshakeException)',
    wire: 'TCP connected, then the TLS handshake failed: a certificate the client does not trust or that names another host, a plain-HTTP port spoken to with https://, or no protocol version or cipher in common. Keep-alive is what saves this handshake on every request after the first; it is not the cause.',
    scenario: `${BEFORE_ANY_SCENARIO}; the probe's hint says what to change`,
    fix: 'Trust the CA that signed the server certificate (--cacert <file.pem>, NODE_EXTRA_CA_CERTS), probe a name the certificate lists, use http:// for a plain port, or skip verification for the probe only with --insecure.',
  },
  {
    id: 'closed before response',
    // The probe's own texts (src/measures/firstRequestError.ts, src/wire/connectError.ts).
    matches: [
      'closed the connection before answering the first request',
      'reset the connection before answering the first request',
      'connection reset while connecting',
    ],
    names: ['closed-before-response', 'connect-reset'],
    seenIn:
      'the probe ([closed-before-response]: the first request on a fresh connection got a FIN or RST instead of a response; [connect-reset]: an RST while connecting)',
    wire: 'A new connection was closed or reset before it answered anything, so this is not the idle race (which needs a connection that already served a request): a TLS port spoken to in plain HTTP, a server or proxy that refuses the client (an allow-list, a connection limit), or a server that crashes on the request.',
    scenario: `${BEFORE_ANY_SCENARIO}`,
    fix: "Use https:// if the port speaks TLS; check the server's and any proxy's logs and connection limits for this client address; compare with curl -v against the same URL.",
  },
  {
    id: 'not HTTP',
    // The probe's own texts (firstRequestError.ts); Node's llhttp "Parse Error: …" codes HPE_* (string in the Node 20.20.2 binary);
    // Go "net/http: HTTP/1.x transport connection broken: …" (go1.19.8 src/net/http/transport.go:2048); curl 7.88.1 "Received HTTP/0.9 when not allowed".
    matches: [
      'did not answer with http',
      'switched protocols',
      'parse error:',
      'hpe_',
      'transport connection broken',
      'received http/0.9 when not allowed',
      'badstatusline',
    ],
    names: ['not-http', 'protocol-error'],
    seenIn:
      'the probe ([not-http], [protocol-error], outcome protocol-error), Node ("Parse Error: …", HPE_* codes), Go ("net/http: HTTP/1.x transport connection broken: …"), Python (BadStatusLine), curl ("(1) Received HTTP/0.9 when not allowed")',
    wire: 'Bytes came back that are not a valid HTTP/1.x response: another protocol on that port (TLS, HTTP/2 only, a database), or a malformed response. On a kept-alive connection a response whose length is wrong (a Content-Length that does not match the body) leaves stray bytes that the next response is read from, so the error shows on the request after the faulty one.',
    scenario:
      "the first request of any scenario ([not-http] stops the run, exit code 3); a later one shows outcome protocol-error in its timeline with the parser's reason",
    fix: 'Check the port and scheme (https:// for TLS), and the response framing of the server or proxy (Content-Length vs body, chunked encoding); curl -v --http1.1 shows the raw head.',
  },
  {
    id: 'timeout',
    // undici HeadersTimeoutError "Headers Timeout Error", UND_ERR_HEADERS_TIMEOUT (in the Node 20.20.2 binary); Go "(Client.Timeout exceeded
    // while awaiting headers)" (go1.19.8 src/net/http/client.go:720), "read tcp …: i/o timeout"; Java "java.net.SocketTimeoutException: Read timed out"
    // (NioSocketImpl.java:277), HttpClient HttpTimeoutException "request timed out" (MultiExchange.java:612); urllib3 ReadTimeoutError
    // "Read timed out. (read timeout=N)" (connectionpool.py:368); curl 7.88.1 "(28) Operation timed out after 1000 milliseconds with 0 bytes
    // received" (observed); .NET TaskCanceledException "The request was canceled due to the configured HttpClient.Timeout of 100 seconds elapsing."
    // (Strings.resx net_http_request_timedout), which covers connecting too.
    matches: [
      'accepted the connection but sent no',
      'headers timeout error',
      'und_err_headers_timeout',
      'und_err_body_timeout',
      'read timed out',
      'request timed out',
      'operation timed out after',
      'httpclient.timeout',
      /read tcp .*i\/o timeout/,
    ],
    vague: ['timed out', 'timeout', 'i/o timeout', 'context deadline exceeded', 'taskcanceledexception', 'a task was canceled'],
    names: ['timeout', 'no-response'],
    seenIn:
      'the probe (outcome timeout, [no-response]), undici ("Headers Timeout Error"), Go ("context deadline exceeded (Client.Timeout exceeded while awaiting headers)", "read tcp …: i/o timeout"), Java ("SocketTimeoutException: Read timed out", HttpTimeoutException "request timed out"), Python ("Read timed out. (read timeout=N)"), curl ("(28) Operation timed out after N milliseconds"), .NET (TaskCanceledException: "…HttpClient.Timeout of 100 seconds elapsing.")',
    wire: "No response (or no complete one) before the client's deadline. On a fresh connection the server is slow or stuck. On a reused connection it can be the keep-alive problem with no FIN and no RST: a load balancer, NAT or firewall forgot the idle connection and drops what is sent on it, so the request vanishes until the client gives up. A timeout that names the connect phase is a connect timeout instead.",
    scenario:
      'timeout-mismatch (serverClose silent-drop, or outcome timeout when the request vanished); idle-timeout against the server and against each hop (--hop) shows which one drops idle connections',
    fix: "If it follows idle time on a reused connection: keep the client's idle limit below the shortest idle timeout on the path (load balancer, NAT gateway, firewall), or enable TCP keepalive probes below it. Otherwise: the server's latency, and the client's timeout.",
  },
  {
    id: 'serverClose',
    matches: ['silent drop', 'half-close', 'half close', 'serverclose'],
    names: ['full', 'half', 'silent-drop'],
    seenIn: 'the probe (metric serverClose of timeout-mismatch: full, half, silent-drop)',
    wire: 'How the server ended an idle kept-alive connection, as seen by a request written after it. full: FIN, then an RST for the late request (clients see ECONNRESET or EPIPE). half: FIN, and the late request is read and never answered (clients see end of stream: socket hang up, NoHttpResponseException). silent-drop: no FIN at all, the request is answered with an RST or not at all, typical of a load balancer, NAT or firewall that forgot the connection.',
    scenario: 'timeout-mismatch (serverClose), idle-timeout',
    fix: `${STALE_FIX} A silent drop gives no warning to any client: only an idle limit below the dropping hop's, or TCP keepalive probes, avoid it.`,
  },
  {
    id: 'normal close',
    names: ['server-idle-close', 'server-close-after-response', 'client-close', 'open'],
    matches: [],
    seenIn: 'the probe (how a connection ended, in timelines and the JSON report: end.kind)',
    wire: 'Not an error. server-idle-close: the server closed an idle connection, after the idle time the report shows (its idle timeout). server-close-after-response: it closed right after a response that said it would (Connection: close, or HTTP/1.0 without keep-alive). client-close: the probe closed first (TIME_WAIT then lands on the client). open: nothing closed it before the probe stopped.',
    scenario: 'idle-timeout (server-idle-close), connection-close and request-cap (server-close-after-response), short-connections (client-close)',
    fix: "Nothing to fix by itself; what matters is that clients stop reusing a connection before the server's idle close (idle-timeout, stale-race).",
  },
  {
    id: 'socket-error',
    names: ['socket-error'],
    // Node "read ETIMEDOUT": the kernel gave up retransmitting on an established connection (lib/internal/stream_base_commons.js read errors).
    matches: ['read etimedout'],
    seenIn: 'the probe (outcome socket-error: a socket error other than ECONNRESET and EPIPE; its code is in the timeline), Node ("read ETIMEDOUT")',
    wire: "A socket error that is neither the server's RST nor a write after it; the code says which. ETIMEDOUT on an established connection: the kernel retransmitted unanswered until it gave up, so the far end or a hop in between vanished (a silent drop).",
    scenario: 'the scenario whose timeline shows it (keepalive-probe run <url> -v), timeout-mismatch for a silent drop',
    fix: "Read the code in the timeline; for ETIMEDOUT on an idle kept-alive connection, keep the idle limit below the dropping hop's or enable TCP keepalive probes.",
  },
  {
    id: 'probe stopped',
    names: ['scenario-timeout', 'interrupted'],
    matches: ['scenario-deadline', 'hop-failed'],
    seenIn:
      'the probe ([scenario-timeout]: a scenario ran past --scenario-timeout; [interrupted]: Ctrl-C, SIGTERM or SIGHUP, or another hop of the run failed)',
    wire: 'Nothing about the server: the probe stopped a scenario itself. The reports written so far are kept.',
    scenario: 'the one named in the report',
    fix: 'Raise --scenario-timeout (a long --max-idle makes idle-timeout and stale-race long), or let the run finish; for a hop, see why that hop could not be probed.',
  },
  {
    id: 'HTTP/2 GOAWAY',
    // Go 1.19.8 src/net/http/h2_bundle.go:8787 ("http2: server sent GOAWAY and closed the connection; LastStreamID=…"), :7288
    // ("http2: Transport received Server's graceful shutdown GOAWAY"); Node 20.20.2 lib/internal/errors.js:1237 ERR_HTTP2_GOAWAY_SESSION
    // "New streams cannot be created after receiving a GOAWAY", :1258 ERR_HTTP2_INVALID_SESSION, :1294 ERR_HTTP2_SESSION_ERROR
    // (lib/internal/http2/core.js:711, a GOAWAY with a non-zero code); undici 6.24.1 lib/dispatcher/client-h2.js:231;
    // gRPC "the connection is draining" (grpc/grpc-go#2767, internal/transport/transport.go:824 at v1.83.1);
    // curl 7.88.1 lib/strerror.c:113 (CURLE_HTTP2, measured on a GOAWAY: src/catalog/h2Profiles.ts).
    matches: [
      'goaway',
      'err_http2_goaway_session',
      'new streams cannot be created after receiving a goaway',
      'the connection is draining',
      'err_http2_invalid_session',
      'the session has been destroyed',
      'err_http2_session_error',
      'session closed with error code',
      'error in the http2 framing layer',
    ],
    names: ['above-last-stream-id', 'h2-unsupported'],
    seenIn:
      'Go ("http2: server sent GOAWAY and closed the connection; LastStreamID=1, ErrCode=NO_ERROR, debug=""", "http2: Transport received Server\'s graceful shutdown GOAWAY"), Node http2 (ERR_HTTP2_GOAWAY_SESSION "New streams cannot be created after receiving a GOAWAY", ERR_HTTP2_INVALID_SESSION "The session has been destroyed" once it is gone, ERR_HTTP2_SESSION_ERROR "Session closed with error code 2" for a GOAWAY with an error code), undici allowH2 (SocketError: HTTP/2: "GOAWAY" frame received with code 0), gRPC (UNAVAILABLE "the connection is draining", "received prior goaway"), curl ("(16) Error in the HTTP2 framing layer"); the probe: outcome above-last-stream-id (safe to retry), [h2-unsupported] when --protocol h2 meets a server without HTTP/2',
    wire: 'The server ended an HTTP/2 connection with a GOAWAY frame: on idle expiry (nginx keepalive_timeout, Go IdleTimeout), after its request cap (nginx keepalive_requests), or on a drain (gRPC MAX_CONNECTION_IDLE/AGE, Envoy, HAProxy). Streams above its last stream id were not processed and are safe to retry; a request sent while the GOAWAY was in flight fails in the client that does not retry it (Node http2, undici: docs/clients.md "HTTP/2").',
    scenario:
      'h2-idle-timeout (idle time to the GOAWAY, its code, last stream id and debug data, the close after it); h2-request-cap (streams served before the GOAWAY); h2-race (which requests around T land above the last stream id)',
    fix: "Keep the client's HTTP/2 idle limit below the server's idle GOAWAY, and let the client retry requests above the GOAWAY's last stream id (Go does for a replayable body, gRPC and OkHttp by themselves; Node http2 and undici do not). gRPC: align keepalive and MAX_CONNECTION_IDLE.",
  },
  {
    id: 'HTTP/2 connection lost',
    // Go 1.19.8 h2_bundle.go:7791 (a health-check PING unanswered) and :8821 (io.ErrUnexpectedEOF for streams of a connection
    // that ended without GOAWAY); grpc-go v1.83.1 internal/transport/http2_client.go:1734, :1793; grpc-js 1.14.3
    // subchannel-call.ts:267; OkHttp 5.4.0 Http2Connection.kt:631-632 (EOF → streams reset with CANCEL); curl 7.88.1 lib/http2.c:1879.
    matches: [
      'http2: client connection lost',
      'error reading from server',
      'keepalive ping failed to receive ack',
      'connection dropped',
      'stream was reset: cancel',
      'before end of the underlying stream',
    ],
    names: ['connection-lost'],
    seenIn:
      'Go ("http2: client connection lost" after an unanswered PING; "unexpected EOF" for a request in flight), gRPC-Go (UNAVAILABLE "connection error: desc = "error reading from server: EOF"", "keepalive ping failed to receive ACK within timeout"), grpc-js ("14 UNAVAILABLE: Connection dropped"), OkHttp ("stream was reset: CANCEL"), curl ("(18) HTTP/2 stream 1 was not closed cleanly before end of the underlying stream"); the probe: outcome connection-lost (no GOAWAY covered the request)',
    wire: "An HTTP/2 connection ended without a GOAWAY (a FIN or an RST: a server or proxy that closes idle connections without HTTP/2 framing, a crash, a middlebox that forgot the flow), or the client's PING went unanswered. Nothing tells the client which requests were processed, so most clients do not resend them (OkHttp and curl on a reused connection do).",
    scenario:
      'h2-idle-timeout (closeKind and closedBy when there is no GOAWAY); h2-race (requests classified connection-lost); h2-ping (whether PINGs keep the connection open)',
    fix: "Keep the client's HTTP/2 idle limit below the server's idle close, or turn on the client's PING health check (Go ReadIdleTimeout, gRPC keepalive, OkHttp pingInterval) within what the server permits, and retry idempotent requests.",
  },
  {
    id: 'REFUSED_STREAM',
    // Node 20.20.2 ERR_HTTP2_STREAM_ERROR "Stream closed with error code NGHTTP2_REFUSED_STREAM" (lib/internal/errors.js);
    // curl 7.88.1 lib/http2.c "HTTP/2 stream %u was not closed cleanly: %s (err %u)"; Chromium net::ERR_HTTP2_SERVER_REFUSED_STREAM (kubernetes/ingress-nginx#7503).
    // grpc-js 1.14.3 subchannel-call.ts:259 ("Stream refused by server", UNAVAILABLE; retried once transparently).
    matches: ['refused_stream', 'err_http2_server_refused_stream', 'stream closed with error code', /was not closed cleanly: /, 'stream refused by server'],
    names: ['refused-stream', 'rst-stream'],
    seenIn:
      'Node (ERR_HTTP2_STREAM_ERROR "Stream closed with error code NGHTTP2_REFUSED_STREAM"), curl ("HTTP/2 stream 1 was not closed cleanly: REFUSED_STREAM (err 7)"), browsers (net::ERR_HTTP2_SERVER_REFUSED_STREAM); the probe: outcome refused-stream or rst-stream',
    wire: 'The server reset one stream with RST_STREAM: REFUSED_STREAM means it did not process the request (above its SETTINGS_MAX_CONCURRENT_STREAMS, or while it shuts the connection down) and a client may retry it; another code ends that stream only.',
    scenario: 'h2-request-cap and h2-idle-timeout show every RST_STREAM in their timelines with its code',
    fix: "Keep concurrent streams per connection below the server's SETTINGS_MAX_CONCURRENT_STREAMS (the probe reports it), open another connection beyond it, and retry REFUSED_STREAM on a new connection.",
  },
];

/** Lower-case, and without the quotes or brackets a pasted name often comes in. */
function normalise(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/^[\s"'`[(]+|[\s"'`\]).:]+$/g, '');
}

function matchesText(matcher: ErrorMatcher, lower: string): boolean {
  return typeof matcher === 'string' ? lower.includes(matcher) : matcher.test(lower);
}

/** A hyphenated name inside a text, not as part of a longer one ("connect-refused", not "x-connect-refused-y"). */
function containsName(lower: string, name: string): boolean {
  if (!name.includes('-')) return false;
  const at = (i: number): string => (i < 0 || i >= lower.length ? ' ' : (lower[i] ?? ' '));
  for (let i = lower.indexOf(name); i !== -1; i = lower.indexOf(name, i + 1)) {
    if (!/[a-z0-9_-]/.test(at(i - 1)) && !/[a-z0-9_-]/.test(at(i + name.length))) return true;
  }
  return false;
}

/**
 * The entries `text` matches (case-insensitive): by id or one of the probe's names, or by a
 * fragment; when none matches that way, by a vague fragment ("fetch failed", "EOF", "timed out").
 */
export function findExplanations(text: string): ErrorExplanation[] {
  const lower = text.toLowerCase();
  const whole = normalise(text);
  const named = (e: ErrorExplanation): boolean => e.id.toLowerCase() === whole || (e.names ?? []).some((n) => n === whole || containsName(lower, n));
  const specific = ERROR_CATALOG.filter((e) => named(e) || e.matches.some((m) => matchesText(m, lower)));
  if (specific.length > 0) return specific;
  return ERROR_CATALOG.filter((e) => (e.vague ?? []).some((m) => matchesText(m, lower)));
}
