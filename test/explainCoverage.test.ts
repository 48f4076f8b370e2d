import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLIENT_PROFILES, H2_CLIENTS } from '../src/catalog/clientProfiles.js';
import { ERROR_CATALOG, findExplanations } from '../src/catalog/errorCatalog.js';
import type { ProbeErrorCode } from '../src/model/errors.js';
import type { CloseKind } from '../src/model/result.js';
import type { ServerCloseMode } from '../src/timeline/closeMode.js';
import type { RequestOutcome } from '../src/timeline/outcome.js';

/**
 * `keepalive-probe explain` must know every text the probe itself prints: each client
 * profile's error texts (the reports' "<client> then shows: …") and each name a report uses
 * for what happened (request outcome, close kind, probe error code, serverClose mode). The
 * lists below are typed as records over the unions, so adding a member without listing it
 * here fails the type check (npm run typecheck); a listed name without an entry fails here.
 */
function namesOf<T extends string>(all: Record<T, true>): T[] {
  return Object.keys(all) as T[];
}

/** 'ok' and 'answered' are left out: a request that was answered needs no explanation. */
const REQUEST_OUTCOMES = namesOf<Exclude<RequestOutcome, 'ok' | 'answered'>>({
  'premature-close': true,
  ECONNRESET: true,
  EPIPE: true,
  'socket-error': true,
  timeout: true,
  truncated: true,
  'protocol-error': true,
  'not-sent': true,
  'refused-stream': true,
  'rst-stream': true,
  'above-last-stream-id': true,
  'connection-lost': true,
});

const CLOSE_KINDS = namesOf<CloseKind>({
  'server-idle-close': true,
  'server-close-after-response': true,
  'premature-close': true,
  'truncated-response': true,
  'reset-on-read': true,
  'server-reset': true,
  'write-epipe': true,
  'client-close': true,
  timeout: true,
  open: true,
});

const PROBE_ERROR_CODES = namesOf<ProbeErrorCode>({
  'dns-not-found': true,
  'dns-temporary': true,
  'connect-refused': true,
  'connect-unreachable': true,
  'connect-timeout': true,
  'connect-reset': true,
  'connect-failed': true,
  'tls-failed': true,
  'not-http': true,
  'h2-unsupported': true,
  'protocol-error': true,
  'no-response': true,
  'closed-before-response': true,
  'scenario-timeout': true,
  interrupted: true,
});

const SERVER_CLOSE_MODES = namesOf<ServerCloseMode>({ full: true, half: true, 'silent-drop': true });

/** The JSON report's enums (docs/report.schema.json), the run-time record of the same unions. */
function schemaEnum(pointer: readonly string[]): string[] {
  const schema = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../docs/report.schema.json'), 'utf8')) as Record<string, unknown>;
  let node: unknown = schema;
  for (const key of pointer) node = (node as Record<string, unknown>)[key];
  return (node as { enum: string[] }).enum;
}

const ids = (text: string): string[] => findExplanations(text).map((e) => e.id);

describe('explain covers what the probe prints', () => {
  it('the lists above are the unions the JSON report carries', () => {
    expect(['ok', 'answered', ...REQUEST_OUTCOMES].sort()).toEqual([...schemaEnum(['$defs', 'requestOutcome'])].sort());
    expect([...CLOSE_KINDS].sort()).toEqual([...schemaEnum(['$defs', 'closeClassification', 'properties', 'kind'])].sort());
    expect([...PROBE_ERROR_CODES].sort()).toEqual([...schemaEnum(['$defs', 'probeError', 'properties', 'code'])].sort());
  });

  it('every error text of every client profile has an explanation', () => {
    const texts = [
      ...CLIENT_PROFILES.flatMap((p) => p.staleErrors.map((text) => `${p.name}: ${text}`)),
      ...H2_CLIENTS.flatMap((c) => [...c.h2.goawayErrors, ...c.h2.lostErrors].map((text) => `${c.name} (HTTP/2): ${text}`)),
    ];
    expect(texts.length).toBeGreaterThan(40);
    expect(texts.filter((t) => findExplanations(t.slice(t.indexOf(': ') + 2)).length === 0)).toEqual([]);
  });

  it('every outcome, close kind, probe error code and serverClose mode has an explanation, alone and as reports print it', () => {
    const names = [...new Set([...REQUEST_OUTCOMES, ...CLOSE_KINDS, ...PROBE_ERROR_CODES, ...SERVER_CLOSE_MODES])];
    expect(names.filter((n) => findExplanations(n).length === 0)).toEqual([]);
    // errorText (report/format.ts) prints a probe error's code in brackets after its message.
    expect(PROBE_ERROR_CODES.filter((c) => c.includes('-') && findExplanations(`cannot reach x:80: … [${c}]`).length === 0)).toEqual([]);
    // A name is explained by an entry that lists it, not by a fragment that happens to match.
    const listed = new Set(ERROR_CATALOG.flatMap((e) => [e.id, ...(e.names ?? [])]));
    expect(names.filter((n) => !listed.has(n))).toEqual([]);
  });

  it('no id or name belongs to two entries', () => {
    const all = ERROR_CATALOG.flatMap((e) => [...new Set([e.id.toLowerCase(), ...(e.names ?? [])])]);
    expect(all.filter((n, i) => all.indexOf(n) !== i)).toEqual([]);
  });
});

describe('explain matches real message formats', () => {
  // Each text as the client prints it (sources beside the entries in src/catalog/errorCatalog.ts),
  // with the prefixes and host:port forms users paste.
  const cases: readonly (readonly [string, readonly string[]])[] = [
    // the probe's own report lines
    ['could not probe the target: connection refused by 127.0.0.1:80: connect ECONNREFUSED 127.0.0.1:80 [connect-refused]', ['ECONNREFUSED']],
    ['Connection refused', ['ECONNREFUSED']],
    ['premature close', ['premature close']],
    ['outcome=premature-close', ['premature close']],
    ['no-response', ['timeout']],
    ['reset', ['ECONNRESET']],
    ['EPIPE', ['EPIPE']],
    ['serverClose=silent-drop', ['serverClose']],
    // Node
    ['Error: connect ECONNREFUSED 127.0.0.1:80', ['ECONNREFUSED']],
    ['Error: connect ECONNREFUSED ::1:3000', ['ECONNREFUSED']],
    ['TypeError: fetch failed\n  [cause]: Error: connect ECONNREFUSED 10.1.2.3:8443', ['ECONNREFUSED']],
    ['Error: connect ETIMEDOUT 10.0.0.1:443', ['connect timeout']],
    ['ConnectTimeoutError: Connect Timeout Error (attempted address: api.internal:443, timeout: 10000ms)', ['connect timeout']],
    ['Error: connect EHOSTUNREACH 192.168.1.20:80', ['EHOSTUNREACH']],
    ['Error: connect ENETUNREACH 2001:db8::1:80 - Local (:::0)', ['EHOSTUNREACH']],
    ['Error: getaddrinfo ENOTFOUND api.internal', ['DNS failure']],
    ['Error: getaddrinfo EAI_AGAIN api.internal', ['DNS failure']],
    ['ETIMEDOUT', ['connect timeout']],
    // Go
    ['Get "http://127.0.0.1:8080/": dial tcp 127.0.0.1:8080: connect: connection refused', ['ECONNREFUSED']],
    ['dial tcp 10.7.8.9:6443: connectex: No connection could be made because the target machine actively refused it.', ['ECONNREFUSED']],
    ['Get "http://10.0.0.1/": dial tcp 10.0.0.1:80: i/o timeout', ['connect timeout']],
    ['Get "http://api.internal/": dial tcp: lookup api.internal on 10.255.255.53:53: no such host', ['DNS failure']],
    ['dial tcp 10.0.0.1:80: connect: no route to host', ['EHOSTUNREACH']],
    ['i/o timeout', ['connect timeout', 'timeout']],
    ['Post "http://api.internal/orders": EOF', ['unexpected end of stream']],
    // Java
    ['Caused by: java.net.ConnectException: Connection refused', ['ECONNREFUSED']],
    ['java.net.SocketTimeoutException: connect timed out', ['connect timeout']],
    ['java.net.SocketTimeoutException: Connect timed out', ['connect timeout']],
    ['java.net.UnknownHostException: api.internal', ['DNS failure']],
    ['java.net.NoRouteToHostException: No route to host', ['EHOSTUNREACH']],
    ['org.apache.http.conn.HttpHostConnectException: Connect to api.internal:8080 [api.internal/10.0.0.5] failed: Connection refused', ['ECONNREFUSED']],
    ['org.apache.http.conn.ConnectTimeoutException: Connect to api.internal:8080 [api.internal/10.0.0.5] failed: connect timed out', ['connect timeout']],
    ['java.net.http.HttpConnectTimeoutException: HTTP connect timed out', ['connect timeout']],
    ['java.net.ConnectException', ['connect failed']],
    ['Caused by: java.net.SocketException: Connection reset', ['ECONNRESET']],
    // Python
    [
      "requests.exceptions.ConnectionError: HTTPConnectionPool(host='localhost', port=80): Max retries exceeded with url: / (Caused by NewConnectionError(\"HTTPConnection(host='localhost', port=80): Failed to establish a new connection: [Errno 111] Connection refused\"))",
      ['ECONNREFUSED'],
    ],
    [
      "urllib3.exceptions.NameResolutionError: HTTPConnection(host='api.internal', port=80): Failed to resolve 'api.internal' ([Errno -2] Name or service not known)",
      ['DNS failure'],
    ],
    [
      "urllib3.exceptions.ConnectTimeoutError: (<HTTPConnection(host='10.0.0.1', port=80)>, 'Connection to 10.0.0.1 timed out. (connect timeout=3)')",
      ['connect timeout'],
    ],
    ['<urlopen error [Errno -3] Temporary failure in name resolution>', ['DNS failure']],
    ['<urlopen error timed out>', ['connect timeout', 'timeout']],
    // curl
    ['curl: (7) Failed to connect to localhost port 80: Connection refused', ['ECONNREFUSED']],
    ["curl: (7) Failed to connect to 127.0.0.1 port 1 after 0 ms: Couldn't connect to server", ['connect failed']],
    ['curl: (28) Connection timed out after 3001 milliseconds', ['connect timeout']],
    ['curl: (28) Failed to connect to 10.0.0.1 port 80 after 3002 ms: Timeout was reached', ['connect timeout']],
    ['curl: (6) Could not resolve host: api.internal', ['DNS failure']],
    ['curl: (28) Operation timed out after 1000 milliseconds with 0 bytes received', ['timeout']],
    // .NET
    ['System.Net.Http.HttpRequestException: No connection could be made because the target machine actively refused it. (localhost:80)', ['ECONNREFUSED']],
    [
      'System.Net.Http.HttpRequestException: Connection refused (localhost:80)\n ---> System.Net.Sockets.SocketException (111): Connection refused',
      ['ECONNREFUSED'],
    ],
    ['System.Net.Http.HttpRequestException: Name or service not known (api.internal:443)', ['DNS failure']],
    ['System.Net.Sockets.SocketException (110): Connection timed out', ['connect timeout']],
    ['System.Threading.Tasks.TaskCanceledException: The request was canceled due to the configured HttpClient.Timeout of 100 seconds elapsing.', ['timeout']],
    [
      'System.Net.Http.HttpRequestException: An error occurred while sending the request.\n ---> System.IO.IOException: The response ended prematurely.',
      ['unexpected end of stream'],
    ],
    // a connect error is not a stale-connection error, and a port is not a status code
    ['dial tcp 127.0.0.1:5020: connect: connection refused', ['ECONNREFUSED']],
    ['502 Bad Gateway', ['502']],
  ];

  it.each(cases)('%s', (text, expected) => {
    expect(ids(text)).toEqual(expected);
  });

  it('a connect-error entry says it is not a keep-alive mismatch and what to check', () => {
    for (const id of ['ECONNREFUSED', 'connect timeout', 'EHOSTUNREACH', 'DNS failure']) {
      const entry = ERROR_CATALOG.find((e) => e.id === id);
      expect(entry?.wire).toContain('Not a keep-alive mismatch');
      expect(entry?.fix).toMatch(/^Check /);
    }
  });
});
