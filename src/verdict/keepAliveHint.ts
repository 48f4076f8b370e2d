import type { ClientProfile } from '../catalog/clientProfiles.js';

/**
 * What a client makes of the server's `Keep-Alive` header, by its own parser (each read in
 * the client's source; docs/clients.md):
 * - `limit`: it keeps an idle connection at most `ms` because of the hint;
 * - `no-reuse`: the hint is too short to reuse the connection at all;
 * - `ignored`: absent, or unreadable to this client: its own limit applies;
 * - `unconfirmed`: a value whose effect no source confirms (a Java pool given 0 or less).
 */
export type HintEffect =
  | { readonly kind: 'limit'; readonly ms: number }
  | { readonly kind: 'no-reuse' }
  | { readonly kind: 'ignored' }
  | { readonly kind: 'unconfirmed' };

const IGNORED: HintEffect = { kind: 'ignored' };
const NO_REUSE: HintEffect = { kind: 'no-reuse' };

/** The effect of `header` (the raw `Keep-Alive` value, all fields joined) on a client that parses it by `rule`. */
export function hintEffect(rule: ClientProfile['hintRule'], header: string | null): HintEffect {
  if (header === null || rule === null) return IGNORED;
  switch (rule) {
    case 'node':
      return nodeHint(header);
    case 'undici':
      return undiciHint(header);
    case 'java':
      return javaHint(header);
    case 'dotnet':
      return dotnetHint(header);
  }
}

/**
 * Node's agent (lib/_http_agent.js keepSocketAlive, v20.20.2): `/^timeout=(\d+)/` on the
 * header, anchored and case-sensitive; hint·1000 − 1000 ms; 0 or less keeps the socket out of
 * the pool. (That it only shortens the agent's own timeout is the profile's hintMode.)
 */
function nodeHint(header: string): HintEffect {
  const digits = /^timeout=(\d+)/.exec(header)?.[1];
  if (digits === undefined) return IGNORED;
  const ms = Number.parseInt(digits, 10) * 1000 - 1000;
  return ms > 0 ? { kind: 'limit', ms } : NO_REUSE;
}

/**
 * undici (lib/core/util.js parseKeepAliveTimeout: `/timeout=(\d+)/`, unanchored;
 * lib/dispatcher/client-h1.js): min(hint·1000 − keepAliveTimeoutThreshold 2000,
 * keepAliveMaxTimeout 600 000); 0 or less: the socket is not reused (kReset).
 */
function undiciHint(header: string): HintEffect {
  const digits = /timeout=(\d+)/.exec(header)?.[1];
  if (digits === undefined) return IGNORED;
  const ms = Math.min(Number.parseInt(digits, 10) * 1000 - 2000, 600_000);
  return ms > 0 ? { kind: 'limit', ms } : NO_REUSE;
}

/**
 * Apache HttpClient 4.5 and 5 (DefaultConnectionKeepAliveStrategy): the header's elements,
 * name `timeout` in any case, value through Long.parseLong (a sign allowed, digits only);
 * the first such element wins, an unreadable one is skipped. A positive value is the limit
 * in seconds; what the pool does with 0 or less no source read here confirms.
 */
function javaHint(header: string): HintEffect {
  for (const element of header.split(',')) {
    const eq = element.indexOf('=');
    if (eq === -1) continue;
    const name = element.slice(0, eq).trim();
    const value = element
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (name.toLowerCase() !== 'timeout' || !/^[+-]?\d+$/.test(value)) continue;
    const seconds = Number(value);
    // Long.parseLong fails past 2^63 − 1: then the element is skipped like any unreadable one.
    if (!Number.isFinite(seconds) || Math.abs(seconds) > 9.2e18) continue;
    return seconds > 0 ? { kind: 'limit', ms: seconds * 1000 } : { kind: 'unconfirmed' };
  }
  return IGNORED;
}

/**
 * .NET SocketsHttpHandler (HttpConnection.ProcessKeepAliveHeader): the header must read as a
 * whole as a list of name[=value]; `timeout` (any case) through TryParseInt32 (digits, at
 * most 2^31 − 1): 1 or less means no reuse, else (timeout − 1) s; `max=0` means no reuse.
 */
function dotnetHint(header: string): HintEffect {
  const parts = header.split(',').map((p) => p.trim());
  const NAME_VALUE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:\s*=\s*(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"[^"]*"))?$/;
  if (parts.some((p) => p !== '' && !NAME_VALUE.test(p))) return IGNORED;
  let noReuse = false;
  let limit: number | null = null;
  for (const part of parts) {
    const [rawName = '', rawValue = ''] = part.split('=').map((x) => x.trim());
    const name = rawName.toLowerCase();
    if (name === 'max' && rawValue === '0') noReuse = true;
    if (name !== 'timeout' || !/^\d+$/.test(rawValue) || Number(rawValue) > 2_147_483_647) continue;
    const seconds = Number(rawValue);
    if (seconds <= 1) noReuse = true;
    else limit = (seconds - 1) * 1000;
  }
  if (noReuse) return NO_REUSE;
  return limit === null ? IGNORED : { kind: 'limit', ms: limit };
}
