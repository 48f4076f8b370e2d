import type { H2Frame } from './frames.js';

/** The RFC 9113 §7 error codes a malformed frame or header block from the peer deserves. */
export type H2ErrorCode = 'PROTOCOL_ERROR' | 'FRAME_SIZE_ERROR' | 'COMPRESSION_ERROR' | 'FLOW_CONTROL_ERROR';

/**
 * A protocol violation by the peer, with the RFC 9113 error code it deserves. The codec
 * treats every violation as a connection error, as RFC 9113 §5.4.1 allows ("an endpoint MAY
 * choose to treat a stream error as a connection error"): the probe reports it and ends.
 */
export class H2ProtocolError extends Error {
  readonly code: H2ErrorCode;
  /** What was wrong, without the code. */
  readonly detail: string;
  /**
   * Whole frames read from the same chunk before the violation (a GOAWAY followed by
   * garbage still shows its GOAWAY). Empty for a header block error.
   */
  readonly frames: readonly H2Frame[];

  constructor(code: H2ErrorCode, message: string, frames: readonly H2Frame[] = []) {
    super(`${code}: ${message}`);
    this.name = 'H2ProtocolError';
    this.code = code;
    this.detail = message;
    this.frames = frames;
  }
}
