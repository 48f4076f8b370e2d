/**
 * gRPC-Go's server-side PING policing, as grpc/grpc-go@4793ad0
 * internal/transport/http2_server.go handlePing (:879-926) does it: a PING that arrives less
 * than the minimum interval after the previous one is a strike, unless the server sent HEADERS
 * or DATA since (setResetPingStrikes, :279-281, called on each write at :1057, :1125, :1169),
 * which clears the strikes instead; more than maxPingStrikes = 2 (:875) strikes end the
 * connection with GOAWAY(ENHANCE_YOUR_CALM, "too_many_pings") (:922-924).
 * One simplification: gRPC-Go measures a PING on a connection with no open stream against
 * 2 h (defaultPingTimeout, :876) unless PermitWithoutStream is set; here one interval serves both.
 */
export class PingStrikes {
  private lastPingAt: number | null = null;
  private strikes = 0;
  private resetPending = false;

  constructor(private readonly minIntervalMs: number) {}

  /** The server sent HEADERS or DATA: the next PING clears the strikes instead of being judged. */
  dataSent(): void {
    this.resetPending = true;
  }

  /** A PING arrived at `nowMs`; returns true when it is one too many (the connection must end). */
  ping(nowMs: number): boolean {
    const last = this.lastPingAt;
    this.lastPingAt = nowMs;
    if (this.resetPending) {
      this.resetPending = false;
      this.strikes = 0;
      return false;
    }
    if (last !== null && nowMs - last < this.minIntervalMs) this.strikes += 1;
    return this.strikes > MAX_PING_STRIKES;
  }
}

/** grpc-go internal/transport/http2_server.go:875. */
export const MAX_PING_STRIKES = 2;
