import type { ConnEvent, Endpoint } from '../model/events.js';
import { SocketArrivals } from './clock.js';
import type { Clock } from './clock.js';
import { EventLog } from './eventLog.js';
import type { Compaction } from './eventLog.js';
import type { ProbeSocket } from './timekeeper.js';

/** How long a FIN close waits for the peer's FIN before the socket is destroyed. */
export const CLOSE_GRACE_MS = 2000;

/**
 * What every probe connection shares, whatever protocol it speaks (HTTP/1.x in
 * connection.ts, HTTP/2 in h2Connection.ts): one raw socket (allowHalfOpen, so the probe, not
 * Node, decides when to answer the server's FIN), its event log on the run's monotonic clock,
 * its endpoints, and the waits for the peer's close. Each protocol reads the bytes its way.
 */
export abstract class SocketConnection {
  readonly id: string;
  protected readonly socket: ProbeSocket;
  protected readonly clock: Clock;
  private readonly eventLog: EventLog;
  private readonly arrivals: SocketArrivals;
  protected readonly closeWaiters = new Set<() => void>();
  protected readonly closed: Promise<void>;
  protected peerFin = false;
  protected closedFlag = false;
  protected localClosed = false;
  private localEndpoint: Endpoint | null = null;
  private remoteEndpoint: Endpoint | null = null;

  /** `compaction`: how many exchanges the event log keeps in full at each end (wire/eventLog.ts); null keeps every event. */
  protected constructor(id: string, socket: ProbeSocket, clock: Clock, compaction: Compaction | null) {
    this.id = id;
    this.eventLog = new EventLog(compaction);
    this.arrivals = new SocketArrivals();
    this.socket = socket;
    this.clock = clock;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    socket.on('close', () => this.onClose());
  }

  protected abstract onData(chunk: Buffer): void;
  protected abstract onEnd(): void;
  protected abstract onError(err: NodeJS.ErrnoException): void;
  protected abstract onClose(): void;

  /** The events so far, the middle of a long connection folded into an `elided` event. */
  get events(): readonly ConnEvent[] {
    return this.eventLog.events;
  }

  /** The newest events as `events` has them, older ones perhaps not folded yet: for queries that read back from the end (wire/eventLog.ts `recent`). */
  get recentEvents(): readonly ConnEvent[] {
    return this.eventLog.recent;
  }

  get local(): Endpoint | null {
    return this.localEndpoint;
  }

  get remote(): Endpoint | null {
    return this.remoteEndpoint;
  }

  get bytesIn(): number {
    return this.socket.bytesRead;
  }

  get bytesOut(): number {
    return this.socket.bytesWritten;
  }

  /** True once the peer has sent FIN or RST, or the socket is gone. */
  get peerClosed(): boolean {
    return this.peerFin || this.closedFlag;
  }

  /** True once the socket is fully closed. */
  get isClosed(): boolean {
    return this.closedFlag;
  }

  /** Waits until the peer closes (FIN or RST) or `maxMs` passes. Resolves true if it closed. */
  waitForPeerClose(maxMs: number): Promise<boolean> {
    if (this.peerClosed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.closeWaiters.delete(done);
        resolve(this.peerClosed);
      };
      const timer = setTimeout(done, maxMs);
      this.closeWaiters.add(done);
    });
  }

  /** TCP is up: records the endpoints and the `connect` event. */
  protected onConnect(): void {
    const s = this.socket;
    this.localEndpoint = { address: s.localAddress ?? '', port: s.localPort ?? 0 };
    this.remoteEndpoint = { address: s.remoteAddress ?? '', port: s.remotePort ?? 0 };
    this.push({ kind: 'connect', t: this.now(), local: this.localEndpoint, remote: this.remoteEndpoint });
  }

  protected notifyCloseWaiters(): void {
    for (const waiter of [...this.closeWaiters]) waiter();
  }

  /** Destroys the socket if the peer's FIN does not come within CLOSE_GRACE_MS, and waits for it to close. */
  protected async awaitClosed(): Promise<void> {
    const grace = setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS);
    await this.closed;
    clearTimeout(grace);
  }

  protected now(): number {
    return this.clock.now();
  }

  /**
   * Records an event; what came from the peer or the kernel carries how late it may have been
   * stamped. Set on the event itself, made just now by the caller: a copy per response was a
   * fifth of the garbage of a long request loop (peak RSS 78 → 102 MiB at 20 000 requests).
   * On a socket the timekeeper holds, what arrived takes the thread's stamp instead
   * (wire/timekeeper.ts): when it arrived there, not when this loop got to it.
   */
  protected push(event: ConnEvent): void {
    if (received(event)) {
      const stamp = this.socket.stamp;
      const e = event as { t: number; late?: number };
      if (stamp != null) e.t = stamp.t;
      e.late = this.arrivals.lateness(e.t, stamp?.late ?? this.clock.lateness(e.t));
    }
    this.eventLog.push(event);
  }
}

/** Whether an event is something that arrived (stamped when the loop got to it) rather than something the probe did or a deadline. */
function received(e: ConnEvent): boolean {
  switch (e.kind) {
    case 'request':
    case 'local-close':
    case 'timeout':
    case 'elided':
      return false;
    case 'h2-frame':
      return e.dir === 'in';
    default:
      return true;
  }
}
