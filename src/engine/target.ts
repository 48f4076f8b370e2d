import net from 'node:net';
import os from 'node:os';

/** A probe target parsed from the command line. */
export interface Target {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  /** The Host header value (host[:port] as in the URL). */
  readonly hostHeader: string;
  /** Path and query sent in every request. */
  readonly path: string;
}

/** The command line named something that is not an http(s) URL. */
export class TargetError extends Error {}

/** Parses `http://host[:port]/path` or `https://...`. */
export function parseTarget(text: string): Target {
  // `localhost:8080` parses as a URL with scheme "localhost:", so both errors offer the hint.
  const hint = /^[\w.-]+(:\d+)?(\/.*)?$/.test(text) ? ` (did you mean http://${text} ?)` : '';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TargetError(`invalid URL "${text}": expected http://host[:port]/path or https://host[:port]/path${hint}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TargetError(`unsupported scheme "${url.protocol}" in "${text}": keepalive-probe speaks HTTP/1.x over http:// or https://${hint}`);
  }
  if (url.hostname === '') throw new TargetError(`invalid URL "${text}": no host`);
  if (url.username !== '' || url.password !== '') {
    throw new TargetError(`credentials in the URL are not sent; pass them as a header instead (-H "Authorization: ...")`);
  }
  const tls = url.protocol === 'https:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    url: url.href,
    host,
    port: url.port === '' ? (tls ? 443 : 80) : Number(url.port),
    tls,
    hostHeader: url.host,
    path: `${url.pathname}${url.search}`,
  };
}

/** True when `address` belongs to this host, so both ends of a connection show in /proc/net/tcp. */
export function isLocalAddress(address: string): boolean {
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (net.isIPv4(plain) && plain.startsWith('127.')) return true;
  if (plain === '::1') return true;
  return Object.values(os.networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === plain));
}
