import net from 'node:net';

/** `host:port`, with an IPv6 address in brackets (`[fd00::5]:443`). */
export function hostPort(host: string, port: number | string): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}
