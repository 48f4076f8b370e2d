import { VERSION } from '../util/version.js';

/** The lab's `Server` header value, the same over HTTP/1.x and HTTP/2. */
export const LAB_SERVER_HEADER = `keepalive-probe-lab/${VERSION}`;

/** The body of every lab response: which response on which connection, so reuse shows in the body too. */
export function labResponseBody(served: number, connectionNumber: number): string {
  return `keepalive-probe lab: response ${served} on connection ${connectionNumber}\n`;
}
