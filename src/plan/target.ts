import net from 'node:net';
import { InputError } from '../model/errors.js';
import { hostPort } from '../util/hostPort.js';

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
  /** The address to connect to instead of resolving `host` (`--resolve`); null: resolve `host`. */
  readonly connectAddress: string | null;
}

/** The command line named something that is not an http(s) URL. */
export class TargetError extends InputError {}

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
  const host = unbracket(url.hostname);
  return {
    url: url.href,
    host,
    port: url.port === '' ? (tls ? 443 : 80) : Number(url.port),
    tls,
    hostHeader: url.host,
    path: `${url.pathname}${url.search}`,
    connectAddress: null,
  };
}

/** One `--resolve host:port:address`: connect to `address` for `host:port`, as curl's option does. */
export interface Resolve {
  readonly host: string;
  readonly port: number;
  readonly address: string;
}

/**
 * Parses `host:port:address` (curl's --resolve syntax; IPv6 in brackets: `[::1]`). The
 * address must be an IP address: the point is to pick one backend behind a name. The host
 * is normalised as a URL's is (lower case, IDN to punycode, IPv6 compressed), so it matches
 * the URL's host however either was written.
 */
export function parseResolve(text: string): Resolve {
  const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5}):(.+)$/.exec(text);
  const port = Number(match?.[2]);
  const address = unbracket(match?.[3] ?? '');
  const host = match === null ? null : urlHost(match[1] as string);
  if (match === null || host === null || port < 1 || port > 65535 || net.isIP(address) === 0) {
    throw new TargetError(
      `invalid --resolve "${text}": expected host:port:address with an IP address, e.g. api.internal:443:10.0.0.5 or api.internal:443:[fd00::5]`,
    );
  }
  return { host, port, address };
}

const unbracket = (s: string): string => (s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s);

/** `host` as new URL() normalises it (brackets removed); null when it is not a valid host. */
function urlHost(host: string): string | null {
  // new URL() would take `user@host` or `host/path` for `host`: only a host is a host.
  if (/[@/?#\\\s]/.test(host)) return null;
  try {
    return unbracket(new URL(`http://${host}/`).hostname);
  } catch {
    return null;
  }
}

/**
 * The targets, each with the address of the `--resolve` entry for its host and port; the
 * URL's host still names the server (Host header, TLS SNI and certificate check). An entry
 * that matches no target is an error (a typo would otherwise probe the wrong backend).
 */
export function applyResolves(targets: readonly Target[], resolves: readonly Resolve[]): Target[] {
  const matches = (r: Resolve, t: Target): boolean => r.host === t.host && r.port === t.port;
  const unused = resolves.find((r) => !targets.some((t) => matches(r, t)));
  if (unused !== undefined) {
    const entry = `${hostPort(unused.host, unused.port)}:${net.isIPv6(unused.address) ? `[${unused.address}]` : unused.address}`;
    throw new TargetError(`--resolve ${entry} matches no target (${targets.map((t) => hostPort(t.host, t.port)).join(', ')})`);
  }
  return targets.map((t) => {
    const entry = resolves.find((r) => matches(r, t));
    return entry === undefined ? t : { ...t, connectAddress: entry.address };
  });
}

/** Where a connection to `target` goes: the --resolve address, or the URL's host. */
export function connectHost(target: Target): string {
  return target.connectAddress ?? target.host;
}
