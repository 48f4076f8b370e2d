import { readFileSync } from 'node:fs';

/** The package version, read once from package.json (two levels above src/util/ and dist/util/). */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The User-Agent the probe sends. */
export const USER_AGENT = `keepalive-probe/${VERSION}`;
