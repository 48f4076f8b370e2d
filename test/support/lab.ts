import { afterEach } from 'vitest';
import { SERVE_DEFAULTS } from '../../src/options/labProfiles.js';
import { startLabServer } from '../../src/lab/labServer.js';
import type { LabProfile } from '../../src/options/labProfiles.js';
import type { LabListenOptions, LabServer } from '../../src/lab/labServer.js';

/**
 * Starts lab servers for the calling test file (SERVE_DEFAULTS plus overrides; `listen`: TLS)
 * and stops them after each test.
 */
export function useLab(): (overrides: Partial<LabProfile>, listen?: LabListenOptions) => Promise<LabServer> {
  const servers: LabServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return async (overrides, listen = {}) => {
    const server = await startLabServer({ ...SERVE_DEFAULTS, ...overrides }, '127.0.0.1', 0, listen);
    servers.push(server);
    return server;
  };
}
