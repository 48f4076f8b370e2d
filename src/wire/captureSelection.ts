import { isIP } from 'node:net';
import { captureFilter } from '../plan/analyzePlan.js';
import type { CaptureSelection } from '../plan/analyzePlan.js';
import type { CapturedPacket, TsharkRead } from './tshark.js';

/**
 * analyze's --port, --host and --stream as tshark display filters and as a test in Node: in
 * one pass tshark applies all three (its tcp.stream is the whole file's); in chunks it applies
 * the ports and hosts, and Node the whole file's stream numbers (wire/tshark.ts readChunks).
 */

/** The display filter of a one-pass read: tshark's own tcp.stream numbers are the whole file's (a long list of streams is left to Node). */
export function onePassFilter(read: TsharkRead): string {
  const select = read.select ?? null;
  const filter = connectionFilter(read, select === null ? [] : select.streams.length <= 64 ? select.streams : []);
  return filter === null ? 'tcp' : `tcp && (${filter})`;
}

/** The ports, hosts, ports hint and `streams` as one display filter; null for none. */
function connectionFilter(read: TsharkRead, streams: readonly number[]): string | null {
  const select = read.select ?? { ports: [], hosts: [], streams: [] };
  const terms = [captureFilter({ ...select, streams }), read.portsHint === undefined ? null : `tcp.port in {${read.portsHint.join(', ')}}`];
  const present = terms.filter((t): t is string => t !== null);
  return present.length === 0 ? null : present.join(' && ');
}

/**
 * The display filter of a chunk: the ports and hosts (a property of every packet of a
 * connection), and the first packet of every stream the chunk's tshark sees
 * (`tcp.time_relative == 0`), so that ChunkStreams numbers the connections left out as one
 * pass would; selects() then drops those.
 */
export function chunkFilter(read: TsharkRead): string {
  const filter = connectionFilter(read, []);
  return filter === null ? 'tcp' : `tcp && ((${filter}) || tcp.time_relative == 0)`;
}

/** The selection as a test of a packet with the whole file's numbers (addresses compared as tshark writes them). */
export function selects(select: CaptureSelection | null): (p: CapturedPacket) => boolean {
  const ports = new Set(select?.ports ?? []);
  const hosts = new Set((select?.hosts ?? []).map(canonicalAddress));
  const streams = new Set(select?.streams ?? []);
  return (p) =>
    (ports.size === 0 || ports.has(p.srcPort) || ports.has(p.dstPort)) &&
    (hosts.size === 0 || hosts.has(p.src) || hosts.has(p.dst)) &&
    (streams.size === 0 || streams.has(p.stream));
}

/** An IPv6 address in its compressed lower-case form (RFC 5952), as tshark writes it; IPv4 unchanged. */
function canonicalAddress(address: string): string {
  return isIP(address) === 6 ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}
