import { accessSync, constants, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { CaptureFileError, UsageError } from '../model/errors.js';
import { CAPTURE_SCENARIOS } from './captureScenarios.js';
import { chooseClient } from './client.js';
import type { ClientChoice } from './client.js';
import { resolveGates } from './gates.js';
import type { Gate } from './gates.js';
import type { Scenario } from './scenario.js';

/** `analyze`'s configuration, converted once from its flags. */
export interface AnalyzeConfig {
  readonly file: string;
  /** --port: keep connections with this TCP port on either side (repeatable: any of them). */
  readonly ports: readonly number[];
  /** --host: keep connections with this IP address on either side. */
  readonly hosts: readonly string[];
  /** --stream: keep these tshark stream numbers. */
  readonly streams: readonly number[];
  readonly tlsKeylog: string | null;
  readonly expect: readonly string[];
  readonly client: string | null;
  readonly clientIdleMs: number | null;
}

/** Which connections of a capture to read: any of the ports, and any of the hosts, and any of the streams (an empty list: no condition). */
export type CaptureSelection = Pick<AnalyzeConfig, 'ports' | 'hosts' | 'streams'>;

/** What `analyze` will do, with every bad input found before tshark starts (InputError, exit 2). */
export interface AnalyzePlan {
  readonly file: string;
  /** The connections the flags select (wire/tshark.ts applies them, chunk by chunk for a large capture). */
  readonly select: CaptureSelection;
  readonly tlsKeylog: string | null;
  readonly scenarios: readonly Scenario[];
  readonly gates: readonly Gate[];
  readonly client: ClientChoice | null;
}

/** Checks the files and flags and resolves the gates against the capture's scenarios. */
export function makeAnalyzePlan(config: AnalyzeConfig): AnalyzePlan {
  readable(config.file, 'capture');
  if (config.tlsKeylog !== null) readable(config.tlsKeylog, '--tls-keylog');
  for (const host of config.hosts) {
    if (isIP(host) === 0) throw new UsageError(`--host ${host}: give an IP address (a capture holds addresses, not names)`);
  }
  // The capture's span stands for --max-idle (measures/measureCapture.ts); --behind is not offered, so no bound is checked here.
  const gates = resolveGates(config.expect, [], CAPTURE_SCENARIOS, Number.POSITIVE_INFINITY, 'analyze');
  return {
    file: config.file,
    select: { ports: config.ports, hosts: config.hosts, streams: config.streams },
    tlsKeylog: config.tlsKeylog,
    scenarios: CAPTURE_SCENARIOS,
    gates,
    client: chooseClient(config.client, config.clientIdleMs),
  };
}

/** The selection as one tshark display filter (as one pass over the whole file reads `tcp.stream`); null for every connection. */
export function captureFilter(config: CaptureSelection): string | null {
  const any = (terms: string[]): string | null => (terms.length === 0 ? null : `(${terms.join(' || ')})`);
  const parts = [
    any(config.ports.map((p) => `tcp.port == ${p}`)),
    any(config.hosts.map((h) => (isIP(h) === 6 ? `ipv6.addr == ${h}` : `ip.addr == ${h}`))),
    any(config.streams.map((s) => `tcp.stream == ${s}`)),
  ].filter((p): p is string => p !== null);
  return parts.length === 0 ? null : parts.join(' && ');
}

function readable(file: string, what: string): void {
  try {
    if (statSync(file).isDirectory()) throw new CaptureFileError(`cannot read ${what} ${file}: it is a directory`);
    accessSync(file, constants.R_OK);
  } catch (err) {
    if (err instanceof CaptureFileError) throw err;
    throw new CaptureFileError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
