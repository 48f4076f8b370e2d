/**
 * The `--client` names, in the order of CLIENT_PROFILES (clientProfiles.ts, whose `name` is
 * typed by this list): `--help` and shell completion list them without loading the profiles
 * (issue 14, start-up). test/clientNames.test.ts holds the two lists together.
 */
export const CLIENT_NAMES = [
  'node-agent',
  'node-global-agent',
  'undici',
  'go',
  'httpclient4',
  'httpclient5',
  'okhttp',
  'java-httpclient',
  'dotnet',
  'urllib3',
  'curl',
  'reactor-netty',
] as const;

/** A `--client` name. */
export type ClientName = (typeof CLIENT_NAMES)[number];
