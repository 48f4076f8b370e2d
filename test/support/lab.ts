import { afterEach } from 'vitest';
import { SERVE_DEFAULTS } from '../../src/options/labProfiles.js';
import { startLabServer } from '../../src/lab/labServer.js';
import type { LabProfile } from '../../src/options/labProfiles.js';
import type { LabServer } from '../../src/lab/labServer.js';

/**
 * Starts lab servers for the calling test file (SERVE_DEFAULTS plus overrides) and stops
 * them after each test.
 */
export function useLab(): (overrides: Partial<LabProfile>) => Promise<LabServer> {
  const servers: LabServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return async (overrides) => {
    const server = await startLabServer({ ...SERVE_DEFAULTS, ...overrides });
    servers.push(server);
    return server;
  };
}
