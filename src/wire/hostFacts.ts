import { readFileSync } from 'node:fs';
import type { HostFacts } from '../model/result.js';

/** Reads this host's ephemeral port range (Linux); null elsewhere. */
export function readHostFacts(): HostFacts {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return { ephemeralPorts: low !== undefined && high !== undefined && high >= low ? high - low + 1 : null };
  } catch {
    return { ephemeralPorts: null };
  }
}
