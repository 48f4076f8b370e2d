import { EventEmitter } from 'node:events';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { TlsFacts, TlsFields } from './dial.js';

// The timekeeper: a thread of its own that holds the sockets of timed idle samples (those taken
// again on a loaded machine, or all of them: --timekeeper, runScenario's openConnection) and
// stamps what arrives on them. On a loaded machine the run's
// event loop is busy with the probe's own work (a scenario's flood, the race's connections, the
// parsing of /proc/net/tcp) when a response or a FIN arrives, and a stamp taken there is late by
// as much; this thread does nothing else, so the OS wakes it as soon as the bytes arrive.
// Measured beside a main loop busy 40 % of the time while eight full suites ran at once: its
// stamps' bounds had a median of 1.6–6 ms where the main loop's had 15–33 ms (and 0.9–1.2 ms
// once the thread asked for a higher priority).

/** When the timekeeper saw something arrive, on the run clock, and how late its loop may have stamped it (its own tick, as wire/clock.ts startClock). */
export interface Stamp {
  readonly t: number;
  readonly late: number;
}

/** A listener of any socket event: net.Socket's own type for it. */
// biome-ignore lint/suspicious/noExplicitAny: EventEmitter's listener type, which net.Socket and TimedSocket both have
type Listener = (...args: any[]) => void;

/** What a probe connection uses of its socket: a net.Socket (tls.TLSSocket), or a TimedSocket whose socket is in the timekeeper. */
export interface ProbeSocket {
  on(event: string, listener: Listener): unknown;
  once(event: string, listener: Listener): unknown;
  off(event: string, listener: Listener): unknown;
  write(data: Uint8Array): boolean;
  end(): unknown;
  destroy(): unknown;
  resetAndDestroy(): unknown;
  cork(): void;
  uncork(): void;
  setNoDelay(noDelay?: boolean): unknown;
  readonly destroyed: boolean;
  readonly writable: boolean;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly localAddress?: string | undefined;
  readonly localPort?: number | undefined;
  readonly remoteAddress?: string | undefined;
  readonly remotePort?: number | undefined;
  /** While a TimedSocket hands over an event: when it arrived. Absent on a net.Socket (stamped when the loop runs the callback). */
  readonly stamp?: Stamp | null;
}

/** Where a timed socket connects, and how (TLS settings only over TLS). */
export interface TimedConnect {
  readonly host: string;
  readonly port: number;
  readonly tls: {
    /** What dial.ts's own TLS options hold as plain data. */
    readonly fields: TlsFields;
    /** The name the certificate must carry (dial.ts tlsOptions' checkServerIdentity). */
    readonly serverName: string;
    readonly ca: readonly string[] | null;
    readonly keylog: boolean;
  } | null;
}

/** What the main thread asks of one socket. */
type SocketOp = { readonly op: 'write'; readonly bytes: Uint8Array } | { readonly op: 'end' | 'destroy' | 'reset' | 'cork' | 'uncork' | 'nodelay' };

/** Main thread → timekeeper. */
type Command = ({ readonly op: 'connect'; readonly to: TimedConnect } | SocketOp) & { readonly id: number };

/** Timekeeper → main thread, one message per event; `at` is process.hrtime in ms, `late` its bound. */
type Report = { readonly id: number; readonly at: number; readonly late: number } & (
  | { readonly ev: 'connect'; readonly local: [string, number]; readonly remote: [string, number] }
  | { readonly ev: 'secure'; readonly protocol: string | null; readonly alpn: string | null }
  | { readonly ev: 'data'; readonly chunk: Uint8Array }
  | { readonly ev: 'end' }
  | { readonly ev: 'error'; readonly code: string | null; readonly syscall: string | null; readonly message: string }
  | { readonly ev: 'keylog'; readonly line: Uint8Array }
  | { readonly ev: 'close'; readonly hadError: boolean }
);

/** The nice value the timekeeper's thread asks for (the default is 0; -20 the most urgent). */
const TIMEKEEPER_NICE = -10;

/**
 * Whether the machine is already busy as a run starts: a 1-minute load average at or above
 * the CPUs this process may use. Then the timekeeper stamps timed samples from the first
 * (their responses and closes would meet a loop held up by others' work as much as by the
 * probe's own), instead of only those taken again; a quiet machine never starts the thread.
 * Always false where there is no load average (Windows reports 0).
 */
export function machineBusy(): boolean {
  const [lastMinute = 0] = os.loadavg();
  return lastMinute >= os.availableParallelism();
}

/**
 * The thread's heap: it holds a few sockets and copies what they read to the main thread, so a
 * small young generation does (V8 sizes a worker's like the main thread's otherwise).
 */
const THREAD_LIMITS = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 32 };

/** Converts a process.hrtime reading (ms) to the run clock (wire/clock.ts Clock.at). */
type ToRunClock = (hrMs: number) => number;

/**
 * One per run, started when first needed (a quiet machine never needs it, and the thread adds
 * about 8 MiB to the peak), stopped with the run.
 */
export class Timekeeper {
  private worker: Worker | null = null;
  private readonly sockets = new Map<number, TimedSocket>();
  private nextId = 1;

  constructor(private readonly toRunClock: ToRunClock) {}

  /** A socket connecting in the timekeeper; its events come back stamped there. */
  connect(to: TimedConnect, keylog: ((line: Buffer) => void) | null): TimedSocket {
    const id = this.nextId++;
    const socket = new TimedSocket((op) => this.send({ ...op, id }), keylog);
    this.sockets.set(id, socket);
    this.send({ op: 'connect', id, to });
    return socket;
  }

  /** Ends the thread (its sockets are destroyed with it). */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.sockets.clear();
    if (worker !== null) await worker.terminate();
  }

  private send(command: Command): void {
    // A socket the thread has closed (or a stopped run) takes no more commands.
    if (!this.sockets.has(command.id)) return;
    this.thread().postMessage(command);
  }

  private thread(): Worker {
    if (this.worker !== null) return this.worker;
    const worker = new Worker(`(${timekeeperThread.toString()})(require, ${TIMEKEEPER_NICE})`, { eval: true, resourceLimits: THREAD_LIMITS });
    worker.on('message', (report: Report) => this.deliver(report));
    worker.on('error', (err) => this.lost(worker, `the timekeeper thread failed: ${err.message}`));
    worker.on('exit', (code) => this.lost(worker, `the timekeeper thread exited (${code})`));
    this.worker = worker;
    return worker;
  }

  /**
   * The thread is gone (a bug in it, or it ran out of memory) while not stopped: every socket it
   * held fails and closes, as a socket of the loop would, rather than waiting forever; a later
   * connection starts a new thread.
   */
  private lost(worker: Worker, message: string): void {
    if (this.worker !== worker) return;
    this.worker = null;
    const held = [...this.sockets];
    this.sockets.clear();
    for (const [id, socket] of held) {
      socket.deliver({ id, at: 0, late: 0, ev: 'error', code: 'ETIMEKEEPER', syscall: null, message }, null);
      socket.deliver({ id, at: 0, late: 0, ev: 'close', hadError: true }, null);
    }
  }

  private deliver(report: Report): void {
    const socket = this.sockets.get(report.id);
    if (socket === undefined) return;
    if (report.ev === 'close') this.sockets.delete(report.id);
    socket.deliver(report, { t: this.toRunClock(report.at), late: report.late });
    // Open sockets keep the process alive through the thread, as their own sockets would.
    if (this.sockets.size === 0) this.worker?.unref();
    else this.worker?.ref();
  }
}

/**
 * The main thread's side of a socket held by the timekeeper: the net.Socket surface the probe's
 * connections use (ProbeSocket). Writes and closes are sent to the thread; what arrives is
 * emitted with `stamp` set to when the thread saw it.
 */
export class TimedSocket extends EventEmitter implements ProbeSocket {
  stamp: Stamp | null = null;
  destroyed = false;
  writable = true;
  bytesRead = 0;
  bytesWritten = 0;
  localAddress: string | undefined;
  localPort: number | undefined;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  /** What the TLS handshake settled (dial's `ready`), once the thread reports it. */
  tlsFacts: TlsFacts | null = null;

  constructor(
    private readonly command: (op: SocketOp) => void,
    private readonly keylog: ((line: Buffer) => void) | null,
  ) {
    super();
  }

  write(data: Uint8Array): boolean {
    if (this.destroyed || !this.writable) return false;
    this.bytesWritten += data.length;
    this.command({ op: 'write', bytes: data });
    return true;
  }

  end(): this {
    if (this.destroyed || !this.writable) return this;
    this.writable = false;
    this.command({ op: 'end' });
    return this;
  }

  destroy(): this {
    return this.gone('destroy');
  }

  resetAndDestroy(): this {
    return this.gone('reset');
  }

  cork(): void {
    this.command({ op: 'cork' });
  }

  uncork(): void {
    this.command({ op: 'uncork' });
  }

  setNoDelay(): this {
    this.command({ op: 'nodelay' });
    return this;
  }

  /** One report from the thread, emitted as net.Socket would with its stamp in place. */
  deliver(report: Report, stamp: Stamp | null): void {
    this.stamp = stamp;
    try {
      switch (report.ev) {
        case 'connect':
          [this.localAddress, this.localPort] = report.local;
          [this.remoteAddress, this.remotePort] = report.remote;
          this.emit('connect');
          return;
        case 'secure':
          this.tlsFacts = { protocol: report.protocol, alpn: report.alpn };
          this.emit('secureConnect');
          return;
        case 'data': {
          const chunk = Buffer.from(report.chunk.buffer, report.chunk.byteOffset, report.chunk.byteLength);
          this.bytesRead += chunk.length;
          this.emit('data', chunk);
          return;
        }
        case 'end':
          this.emit('end');
          return;
        case 'error': {
          const err: NodeJS.ErrnoException = new Error(report.message);
          if (report.code !== null) err.code = report.code;
          if (report.syscall !== null) err.syscall = report.syscall;
          this.destroyed = true;
          this.writable = false;
          this.emit('error', err);
          return;
        }
        case 'keylog':
          this.keylog?.(Buffer.from(report.line));
          return;
        case 'close':
          this.destroyed = true;
          this.writable = false;
          this.emit('close', report.hadError);
          return;
      }
    } finally {
      this.stamp = null;
    }
  }

  private gone(op: 'destroy' | 'reset'): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.writable = false;
    this.command({ op });
    return this;
  }
}

/**
 * The thread's code, run from its source text (a worker of its own file would need one path
 * for the bundle and another for the tests): it may use only its arguments and globals. Each socket
 * is allowHalfOpen, as dial.ts's; its events go back one message each, stamped when its
 * callback ran, with how late that may be: a tick every 1 ms marked settled in
 * the check phase, as the run clock does (wire/clock.ts). The tick runs only while a socket is
 * open.
 */
function timekeeperThread(require: NodeJS.Require, nice: number): void {
  const net = require('node:net') as typeof import('node:net');
  const port = (require('node:worker_threads') as typeof import('node:worker_threads')).parentPort as import('node:worker_threads').MessagePort;
  try {
    // This thread alone (Linux: a nice value is a thread's) asks to run first, where the OS lets
    // it (root, CAP_SYS_NICE, RLIMIT_NICE): it does next to nothing, so it takes next to nothing
    // from others. Eight suites at once on two cores: 24–28 of 30 stamps within 2 ms instead of 2–16.
    (require('node:os') as typeof import('node:os')).setPriority(0, nice);
  } catch {
    // EACCES: an ordinary user's thread stays at its default, and its stamps say how late they are.
  }
  const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;
  let last = 0;
  let settled = 0;
  let tick: NodeJS.Timeout | null = null;
  const settle = (): void => {
    settled = last;
  };
  // The loop's own bound; the rule after a short read on the same socket is applied where
  // the stamps are read (wire/clock.ts SocketArrivals, in wire/socketConnection.ts).
  const stamp = (): { at: number; late: number } => {
    const at = hrMs();
    return { at, late: Math.max(0, Math.round((at - settled) * 1000) / 1000) };
  };
  // One message per event, as a socket has one callback per read: the main thread drains its
  // microtasks between two messages (an \`await\` on the connect resumes before the server's
  // first bytes are handed over) and handles messages that came together in one poll phase.
  const report = (id: number, fields: object): void => port.postMessage({ id, ...stamp(), ...fields });
  const sockets = new Map<number, import('node:net').Socket>();
  const contexts = new Map<string, import('node:tls').SecureContext>();

  const open = (id: number, to: TimedConnect): void => {
    if (tick === null) {
      last = hrMs();
      settled = last;
      tick = setInterval(() => {
        last = hrMs();
        setImmediate(settle);
      }, 1);
    }
    let socket: import('node:net').Socket;
    if (to.tls === null) {
      socket = net.connect({ host: to.host, port: to.port, allowHalfOpen: true });
    } else {
      // Loaded only for TLS: a thread that loads it takes ~5 MiB more.
      const tls = require('node:tls') as typeof import('node:tls');
      const { serverName, ca } = to.tls;
      const key = ca === null ? '' : ca.join('\n');
      let secureContext = ca === null ? undefined : contexts.get(key);
      // As dial.ts secureContextFor: Node's roots beside the user's CAs, an intermediate trusted as an anchor.
      if (ca !== null && secureContext === undefined) {
        secureContext = tls.createSecureContext({ ca: [...tls.rootCertificates, ...ca], allowPartialTrustChain: true });
        contexts.set(key, secureContext);
      }
      // dial.ts tlsOptions, its functions and secure context made here.
      const tlsSocket = tls.connect({
        ...to.tls.fields,
        checkServerIdentity: (_host, cert) => tls.checkServerIdentity(serverName, cert),
        ...(secureContext === undefined ? {} : { secureContext }),
      });
      if (to.tls.keylog) tlsSocket.on('keylog', (line: Buffer) => report(id, { ev: 'keylog', line: new Uint8Array(line) }));
      tlsSocket.once('secureConnect', () => {
        const alpn = tlsSocket.alpnProtocol;
        report(id, { ev: 'secure', protocol: tlsSocket.getProtocol(), alpn: typeof alpn === 'string' ? alpn : null });
      });
      socket = tlsSocket;
    }
    sockets.set(id, socket);
    socket.once('connect', () =>
      report(id, { ev: 'connect', local: [socket.localAddress ?? '', socket.localPort ?? 0], remote: [socket.remoteAddress ?? '', socket.remotePort ?? 0] }),
    );
    // A copy of the bytes alone: a view would take its whole backing store across.
    socket.on('data', (chunk: Buffer) => report(id, { ev: 'data', chunk: new Uint8Array(chunk) }));
    socket.on('end', () => report(id, { ev: 'end' }));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      report(id, {
        ev: 'error',
        code: typeof err.code === 'string' ? err.code : null,
        syscall: typeof err.syscall === 'string' ? err.syscall : null,
        message: err.message,
      }),
    );
    socket.on('close', (hadError: boolean) => {
      report(id, { ev: 'close', hadError });
      sockets.delete(id);
      if (sockets.size === 0 && tick !== null) {
        clearInterval(tick);
        tick = null;
      }
    });
  };

  port.on('message', (command: Command) => {
    if (command.op === 'connect') return open(command.id, command.to);
    const socket = sockets.get(command.id);
    if (socket === undefined) return;
    switch (command.op) {
      case 'write':
        socket.write(command.bytes);
        return;
      case 'end':
        socket.end();
        return;
      case 'destroy':
        socket.destroy();
        return;
      case 'reset':
        socket.resetAndDestroy();
        return;
      case 'cork':
        socket.cork();
        return;
      case 'uncork':
        socket.uncork();
        return;
      case 'nodelay':
        socket.setNoDelay(true);
        return;
    }
  });
}
