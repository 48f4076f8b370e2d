import net from 'node:net';
import { afterEach } from 'vitest';

/**
 * A TCP proxy on 127.0.0.1 that delays everything by `oneWayMs` in each direction: bytes, the
 * FIN (end) and a reset, in order. It stands in for a network round trip of 2 × oneWayMs,
 * which loopback does not have (and this machine's kernel has no netem). Stopped after each
 * test of the calling file.
 */
export function useDelayProxy(): (target: { host: string; port: number }, oneWayMs: number) => Promise<string> {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((stop) => stop()));
  });
  return async (target, oneWayMs) => {
    const sockets = new Set<net.Socket>();
    const track = (s: net.Socket): net.Socket => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      return s;
    };
    const server = net.createServer({ allowHalfOpen: true }, (client) => {
      track(client);
      const upstream = track(net.connect({ host: target.host, port: target.port, allowHalfOpen: true }));
      delayed(client, upstream, oneWayMs);
      delayed(upstream, client, oneWayMs);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    );
    return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
  };
}

/** Forwards what `from` receives to `to`, `ms` later: data, then its end (FIN), or a reset. */
function delayed(from: net.Socket, to: net.Socket, ms: number): void {
  const later = (act: () => void): void => void setTimeout(() => !to.destroyed && act(), ms);
  from.on('data', (chunk: Buffer) => later(() => to.write(chunk)));
  from.on('end', () => later(() => to.end()));
  from.on('error', () => later(() => to.resetAndDestroy()));
}
