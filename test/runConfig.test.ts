import { describe, expect, it } from 'vitest';
import { RUN_DEFAULTS, SCENARIO_SLACK_MS, runConfigFrom } from '../src/options/runConfig.js';
import type { RunFlags } from '../src/options/runConfig.js';

/** The one conversion from flags to the run's configuration, with the JSON report's names. */
const flags: RunFlags = {
  scenario: ['idle-timeout'],
  maxIdle: RUN_DEFAULTS.maxIdleMs,
  maxRequests: RUN_DEFAULTS.maxRequests,
  connectTimeout: 1500,
  responseTimeout: 2500,
  headersTimeout: 3500,
  bodyTimeout: 4500,
  method: 'HEAD',
  header: [['X-Test', '1']],
  resolve: [],
  expect: ['reuse'],
  behind: [],
  hop: [],
};

describe('runConfigFrom', () => {
  it('renames every deadline once, to the names of the JSON report options', () => {
    const config = runConfigFrom('http://127.0.0.1:8080/', flags, {});
    expect(config).toMatchObject({
      url: 'http://127.0.0.1:8080/',
      maxIdleMs: 90_000,
      maxRequests: 1000,
      connectTimeoutMs: 1500,
      firstByteTimeoutMs: 2500,
      headersTimeoutMs: 3500,
      bodyTimeoutMs: 4500,
      scenarioTimeoutMs: 90_000 + SCENARIO_SLACK_MS,
      method: 'HEAD',
      client: null,
      clientIdleMs: null,
      caFile: null,
      extraCaFile: null,
    });
  });

  it('takes --scenario-timeout, --client and NODE_EXTRA_CA_CERTS when given; no URL means the lab', () => {
    const config = runConfigFrom(
      undefined,
      { ...flags, scenarioTimeout: 700, client: 'go', clientIdle: 3000, cacert: 'ca.pem' },
      { NODE_EXTRA_CA_CERTS: '/etc/extra.pem' },
    );
    expect(config).toMatchObject({ url: null, scenarioTimeoutMs: 700, client: 'go', clientIdleMs: 3000, caFile: 'ca.pem', extraCaFile: '/etc/extra.pem' });
  });
});
