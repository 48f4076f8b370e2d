import net from 'node:net';
import os from 'node:os';

/** True when `address` belongs to this host, so both ends of a connection show in /proc/net/tcp. */
export function isLocalAddress(address: string): boolean {
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (net.isIPv4(plain) && plain.startsWith('127.')) return true;
  if (plain === '::1') return true;
  return Object.values(os.networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === plain));
}
