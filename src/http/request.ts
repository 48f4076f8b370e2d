import type { HttpVersion } from '../model/timeline.js';

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
  if (!overridden.has('host')) lines.push(`Host: ${spec.host}`);
  if (!overridden.has('user-agent')) lines.push(`User-Agent: ${spec.userAgent}`);
  if (!overridden.has('accept')) lines.push('Accept: */*');
  if (spec.connection !== null && !overridden.has('connection')) lines.push(`Connection: ${spec.connection}`);
  for (const [name, value] of spec.headers) lines.push(`${name}: ${value}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** The Connection header value actually sent (explicit header wins over the spec field). */
export function sentConnectionHeader(spec: RequestSpec): string | null {
  const explicit = spec.headers.find(([name]) => name.toLowerCase() === 'connection');
  return explicit ? explicit[1] : spec.connection;
}
