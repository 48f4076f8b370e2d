import net from 'node:net';
import { afterEach } from 'vitest';

/**
 * Raw TCP servers on 127.0.0.1 for the calling test file, each doing `onConnection` with
 * every accepted socket (a hostile or broken "HTTP" server); stopped after each test.
 * Returns the server's http:// URL.
 */
export function useRawServer(): (onConnection: (socket: net.Socket) => void, options?: { allowHalfOpen?: boolean }) => Promise<string> {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(stops.splice(0).map((stop) => stop()));
  });
  return async (onConnection, options = {}) => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer({ allowHalfOpen: options.allowHalfOpen ?? false }, (socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      onConnection(socket);
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

/** Calls `onHead(n)` for every request head that arrives on the socket (n counts from 1; bodies are not read). */
export function onRequestHeads(socket: net.Socket, onHead: (n: number) => void): void {
  let buffered = '';
  let n = 0;
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    while (buffered.includes('\r\n\r\n')) {
      buffered = buffered.slice(buffered.indexOf('\r\n\r\n') + 4);
      n += 1;
      onHead(n);
    }
  });
}

/** Answers every request head on the socket with `response(n)` (n counts from 1). */
export function answerEachRequest(socket: net.Socket, response: (n: number) => Buffer): void {
  onRequestHeads(socket, (n) => socket.write(response(n)));
}
