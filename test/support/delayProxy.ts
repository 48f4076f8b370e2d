import net from 'node:net';
import { useRawServer } from './rawServer.js';

/**
 * A TCP proxy on 127.0.0.1 that delays everything by `oneWayMs` in each direction: bytes, the
 * FIN (end) and a reset, in order. It stands in for a network round trip of 2 × oneWayMs,
 * which loopback does not have (and this machine's kernel has no netem). Stopped after each
 * test of the calling file, its upstream connections with it.
 */
export function useDelayProxy(): (target: { host: string; port: number }, oneWayMs: number) => Promise<string> {
  const rawServer = useRawServer();
  return (target, oneWayMs) =>
    rawServer(
      (client) => {
        const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
        upstream.on('error', () => undefined);
        client.on('close', () => upstream.destroy());
        delayed(client, upstream, oneWayMs);
        delayed(upstream, client, oneWayMs);
      },
      { allowHalfOpen: true },
    );
}

/** Forwards what `from` receives to `to`, `ms` later: data, then its end (FIN), or a reset. */
function delayed(from: net.Socket, to: net.Socket, ms: number): void {
  const later = (act: () => void): void => void setTimeout(() => !to.destroyed && act(), ms);
  from.on('data', (chunk: Buffer) => later(() => to.write(chunk)));
  from.on('end', () => later(() => to.end()));
  from.on('error', () => later(() => to.resetAndDestroy()));
}
