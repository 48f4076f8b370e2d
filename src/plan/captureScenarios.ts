import type { ProtocolId } from '../model/result.js';
import type { MeasureName, MetricSpec, Scenario, Step } from './scenario.js';

/**
 * The scenarios `analyze` reports for a packet capture. They carry the ids and metric names
 * of the built-in scenarios whose questions a capture answers too (idle-timeout,
 * request-cap, stale-race, timeout-mismatch, connection-close, http11-reuse,
 * short-connections; over HTTP/2 h2-idle-timeout and h2-request-cap), so the metric registry, advice, client verdicts and `--expect` read
 * them unchanged; the figures come from every connection in the capture instead of the
 * probe's own. Metrics only a capture has (counts over its connections, and h2-streams: what
 * became of HTTP/2 streams no response ended) are named here.
 * measures/measureCapture.ts fills in exactly these names.
 */

const SOURCE = 'capture';

function spec(measure: MeasureName, on: string | null = 'capture'): MetricSpec {
  return { measure, on, request: null };
}

function expectStep(that: string, message: string): Step {
  return { type: 'expect', line: 0, that, severity: 'warn', message };
}

function scenario(
  id: string,
  title: string,
  description: string,
  headline: string,
  metrics: Record<string, MetricSpec>,
  steps: Step[] = [],
  protocol: ProtocolId = 'http/1.1',
): Scenario {
  return { id, title, description, source: SOURCE, steps, metrics, headline, exclusive: false, needs: null, protocol };
}

/** The capture's scenarios, in report order. */
export const CAPTURE_SCENARIOS: readonly Scenario[] = [
  scenario(
    'idle-timeout',
    'Server idle timeout (capture)',
    "The idle time from a response to the server's FIN or RST on every connection the server closed while idle: min, median, max.",
    'idleTimeoutMs',
    {
      idleTimeoutMs: spec('idleBeforeCloseMin'),
      idleTimeoutMedianMs: spec('idleBeforeCloseMedian'),
      idleTimeoutMaxMs: spec('idleBeforeCloseMax'),
      closeKind: spec('closeKind'),
      advertisedTimeoutS: spec('advertisedTimeout'),
      advertisedKeepAlive: spec('keepAliveHeader'),
      timeWaitSide: spec('timeWaitSide'),
      idleCloses: spec('connections'),
    },
  ),
  scenario(
    'request-cap',
    'Requests per connection (capture)',
    'Connections whose keep-alive the server ended right after a response: with "Connection: close", or by closing at once.',
    'maxRequests',
    { maxRequests: spec('requestsBeforeClose'), signalled: spec('closeSignalled'), closeKind: spec('closeKind'), capCloses: spec('connections') },
    [expectStep('signalled != false', 'the server closed at its request cap without saying "Connection: close" first')],
  ),
  scenario(
    'stale-race',
    'Requests on closed connections (capture)',
    "Requests written after the server's FIN (or on a connection it dropped), what answered them, and the race window around the idle timeout.",
    'staleRequests',
    {
      idleTimeoutMs: spec('idleBeforeCloseMin'),
      closeKind: spec('closeKind'),
      failureWindowMs: spec('raceWindow', null),
      failureWindowUpperMs: spec('raceWindowUpper', null),
      safeClientIdleMs: spec('raceSafeIdle', null),
      staleRequests: spec('connections'),
      staleAnsweredByRst: spec('connections'),
      staleUnanswered: spec('connections'),
      staleAnswered: spec('connections'),
      resetsAfterIdle: spec('connections'),
    },
    [expectStep('staleRequests = 0', "clients wrote requests on connections the server had already closed: they idle longer than the server's idle timeout")],
  ),
  scenario(
    'timeout-mismatch',
    'Client idles longer than the server (capture)',
    "The first request written on a connection after the server's close: what the client got, and how the server had closed.",
    'outcome',
    { outcome: spec('requestOutcome'), serverClose: spec('closeMode'), clientIdleMs: spec('clientIdle'), serverIdleTimeoutMs: spec('idleBeforeClose') },
  ),
  scenario(
    'connection-close',
    'Connection: close (capture)',
    'Connections on which a request said "Connection: close": who closed first, how, and who holds TIME_WAIT.',
    'closedBy',
    { closedBy: spec('closedBy'), closeKind: spec('closeKind'), timeWaitSide: spec('timeWaitSide') },
  ),
  scenario('http11-reuse', 'Connection reuse (capture)', 'Whether connections carried more than one request.', 'reused', {
    reused: spec('reused'),
    requests: spec('responses', null),
    connections: spec('connections', null),
    reusedConnections: spec('connections'),
    timeWaitSide: spec('timeWaitSide'),
  }),
  scenario(
    'short-connections',
    'Who holds TIME_WAIT (capture)',
    'Connections the client closed first, and those whose request said "Connection: close": which side the close order leaves in TIME_WAIT.',
    'clientClosesTimeWaitClient',
    {
      clientClosesConnections: spec('connections'),
      clientClosesTimeWaitServer: spec('timeWaitServer'),
      clientClosesTimeWaitClient: spec('timeWaitClient'),
      clientSendsCloseConnections: spec('connections'),
      clientSendsCloseTimeWaitServer: spec('timeWaitServer'),
      clientSendsCloseTimeWaitClient: spec('timeWaitClient'),
    },
  ),
  scenario(
    'h2-idle-timeout',
    'HTTP/2 idle timeout and GOAWAY (capture)',
    "On every HTTP/2 connection the server ended while idle: the idle time from the last response to its first GOAWAY (to its close when it sent none), min, median, max; the GOAWAY's error code and debug data, a two-step drain, the time to the close, who closed.",
    'idleTimeoutMs',
    {
      idleTimeoutMs: spec('h2IdleBeforeGoaway'),
      idleTimeoutMedianMs: spec('idleBeforeCloseMedian'),
      idleTimeoutMaxMs: spec('idleBeforeCloseMax'),
      goawayErrorCode: spec('goawayErrorCode'),
      goawayDebug: spec('goawayDebug'),
      closeAfterGoawayMs: spec('closeAfterGoaway'),
      twoStepGoaway: spec('twoStepGoaway'),
      closeKind: spec('closeKind'),
      closedBy: spec('closedBy'),
      maxConcurrentStreams: spec('maxConcurrentStreams'),
      idleCloses: spec('connections'),
    },
    [],
    'h2',
  ),
  scenario(
    'h2-request-cap',
    'HTTP/2 streams per connection (capture)',
    'HTTP/2 connections the server ended while busy or right after a response (a GOAWAY or a close): the streams served on each, and whether a GOAWAY came first.',
    'maxRequests',
    {
      maxRequests: spec('h2StreamsBeforeGoaway'),
      signalled: spec('goawaySignalled'),
      goawayErrorCode: spec('goawayErrorCode'),
      closeKind: spec('closeKind'),
      capCloses: spec('connections'),
    },
    [expectStep('signalled != false', 'the server closed HTTP/2 connections at its stream cap without a GOAWAY: a request sent meanwhile is lost')],
    'h2',
  ),
  scenario(
    'h2-streams',
    'HTTP/2 streams without a response (capture)',
    "The client's HTTP/2 streams no response ended: refused (REFUSED_STREAM) or above a GOAWAY's last stream id (not processed: safe to retry), or lost with a connection the server closed with no GOAWAY covering them (unsafe to retry).",
    'streamsLost',
    {
      connections: spec('connections', null),
      requests: spec('responses', null),
      streamsRefused: spec('connections'),
      streamsAboveLastStreamId: spec('connections'),
      streamsLost: spec('connections'),
      lostConnections: spec('connections'),
    },
    [expectStep('streamsLost = 0', 'HTTP/2 streams were lost with their connection: no GOAWAY told the client they were not processed')],
    'h2',
  ),
];
