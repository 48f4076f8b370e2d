import type { HttpVersion } from '../model/events.js';

/** A request as the probe writes it: byte-exact, so a scenario can send what a given client sends. */
export interface RequestSpec {
  readonly method: string;
  readonly path: string;
  readonly version: HttpVersion;
  readonly host: string;
  /** The Connection header to send, or null to send none (HTTP/1.1 then defaults to persistent). */
  readonly connection: string | null;
  /** Extra headers in order; one named Host or User-Agent replaces the default. */
  readonly headers: readonly (readonly [string, string])[];
  readonly userAgent: string;
}

/** Serialises a request head (no body: the probe only sends GET/HEAD-style requests). */
export function serializeRequest(spec: RequestSpec): Buffer {
  const overridden = new Set(spec.headers.map(([name]) => name.toLowerCase()));
  const lines = [`${spec.method} ${spec.path} HTTP/${spec.version}`];
  // An explicit Host, User-Agent or Accept takes the default's place rather than moving to
  // the end: Host stays the first field after the request line (RFC 9112 §3.2).
  const placed = new Set<number>();
  for (const [name, value] of [
    ['Host', spec.host],
    ['User-Agent', spec.userAgent],
    ['Accept', '*/*'],
  ] as const) {
    const i = spec.headers.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
    const header = spec.headers[i];
    if (header === undefined) {
      lines.push(`${name}: ${value}`);
      continue;
    }
    placed.add(i);
    lines.push(`${header[0]}: ${header[1]}`);
  }
  if (spec.connection !== null && !overridden.has('connection')) lines.push(`Connection: ${spec.connection}`);
  spec.headers.forEach(([name, value], i) => {
    if (!placed.has(i)) lines.push(`${name}: ${value}`);
  });
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** The Connection header value actually sent (explicit headers win over the spec field). */
export function sentConnectionHeader(spec: RequestSpec): string | null {
  // Every explicit Connection field is sent, so all count: RFC 9110 §5.3 combines repeated
  // fields into one list (a "close" in the second one still closes).
  const explicit = spec.headers.filter(([name]) => name.toLowerCase() === 'connection').map(([, value]) => value);
  return explicit.length > 0 ? explicit.join(', ') : spec.connection;
}
