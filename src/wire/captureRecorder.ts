import { spawn, spawnSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { isLocalAddress } from './localAddress.js';

/**
 * `run --capture`: dumpcap (Wireshark's capture engine; tshark when only it is installed)
 * records the probe's own connections while it probes, so their times can be read off the
 * kernel's packet timestamps afterwards instead of the probe's event loop. Capturing needs
 * privileges (CAP_NET_RAW and CAP_NET_ADMIN, or root); when it is not permitted, start
 * resolves a one-line reason and the run goes on with event-loop times.
 */

/** One endpoint the probe connects to. */
export interface CaptureEndpoint {
  /** A host name or an IP address (resolved here: a capture filter holds addresses). */
  readonly host: string;
  readonly port: number;
}

/** A capture in progress. */
export interface Recording {
  readonly file: string;
  /** `dumpcap` or `tshark`, with its version: `dumpcap -v`'s first line. */
  readonly tool: string;
  /** The interface captured on: `lo` when every target is on this host (Linux routes its own addresses over it), `any` otherwise. */
  readonly interface: string;
  /** The libpcap capture filter. */
  readonly filter: string;
  /** Stops capturing; the file is complete when it resolves. */
  stop(): Promise<void>;
}

/** Why nothing is being captured, in one line. */
export interface NotRecording {
  readonly unavailable: string;
}

/** How long the capture process may take to start capturing (opening the interface, compiling the filter). */
const START_MAX_MS = 10_000;
/** tshark says nothing once it writes: alive this long after "Capturing on", it is capturing. */
const TSHARK_SETTLE_MS = 500;
/** After the last connection closed: dumpcap writes what the kernel buffered every 100 ms (`--update-interval`, its default). */
const FLUSH_MS = 300;
/** Beyond the run's longest possible duration, before the capture stops by itself. */
const AUTOSTOP_SLACK_MS = 60_000;
/** SIGINT makes dumpcap write out and exit; one that does not within this long is killed. */
const STOP_MAX_MS = 5000;

/** The capture filter for the targets: their addresses and ports, each pair on its own. */
export async function captureFilter(endpoints: readonly CaptureEndpoint[]): Promise<{ filter: string; local: boolean }> {
  const pairs: string[] = [];
  let local = true;
  for (const e of endpoints) {
    const addresses = net.isIP(e.host) !== 0 ? [e.host] : (await lookup(e.host, { all: true })).map((a) => a.address);
    if (!addresses.every(isLocalAddress)) local = false;
    for (const address of addresses) pairs.push(`(host ${address} and tcp port ${e.port})`);
  }
  return { filter: [...new Set(pairs)].join(' or '), local };
}

/**
 * Starts dumpcap (or tshark) on the targets' traffic, writing pcapng (nanosecond timestamps)
 * to `file`; resolves a Recording once it captures, or why it cannot (not installed, no
 * privileges, an address it cannot resolve). `maxMs`: the longest the run can take; the
 * capture stops by itself a minute after that, should this process never stop it.
 */
export async function startRecording(endpoints: readonly CaptureEndpoint[], file: string, maxMs: number): Promise<Recording | NotRecording> {
  const tool = ['dumpcap', 'tshark'].find((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
  if (tool === undefined) return { unavailable: 'neither dumpcap nor tshark is installed (Debian, Ubuntu: apt-get install tshark)' };
  let filter: string;
  let local: boolean;
  try {
    ({ filter, local } = await captureFilter(endpoints));
  } catch (err) {
    return { unavailable: `cannot resolve the target for a capture filter: ${(err as Error).message}` };
  }
  const iface = local ? 'lo' : 'any';
  const version = ((spawnSync(tool, ['-v'], { encoding: 'utf8', timeout: 10_000 }).stdout ?? '').split('\n')[0]?.trim() || tool).replace(/\.$/, '');
  // -a duration: the capture stops by itself should this process die without stopping it.
  const autostop = `duration:${Math.ceil((maxMs + AUTOSTOP_SLACK_MS) / 1000)}`;
  const child = spawn(tool, ['-i', iface, '-f', filter, '-w', file, '-q', '-a', autostop], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), START_MAX_MS);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < 16_384) stderr += chunk;
      // dumpcap prints "Capturing on 'lo'" before it has the permission to, and "File: …" once it
      // writes; tshark prints no "File:" line, so it must still be running a moment later.
      if (stderr.includes('\nFile: ') || stderr.startsWith('File: ')) {
        clearTimeout(timer);
        resolve(true);
      } else if (tool === 'tshark' && stderr.includes('Capturing on')) {
        setTimeout(() => {
          clearTimeout(timer);
          resolve(child.exitCode === null && child.signalCode === null);
        }, TSHARK_SETTLE_MS);
      }
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      // Not started at all (EACCES: a directory on PATH this user may not search, or the binary itself).
      stderr = `cannot start ${tool}: ${err.code ?? err.message}`;
      clearTimeout(timer);
      resolve(false);
    });
    child.once('close', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready) {
    child.kill('SIGKILL');
    await exited;
    return { unavailable: `${tool} could not capture on ${iface}: ${reasonOf(stderr)}` };
  }
  return {
    file,
    tool: version,
    interface: iface,
    filter,
    stop: async () => {
      await new Promise((resolve) => setTimeout(resolve, FLUSH_MS));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_MAX_MS);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * The capture tool's own reason, in one line: its first paragraph, without its banner
 * ("Running as user", "Capturing on"); the advice paragraphs after it do not fit one line.
 */
function reasonOf(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => !l.startsWith('Running as user') && !l.startsWith('Capturing on') && !l.startsWith('File:'));
  const start = lines.findIndex((l) => l !== '');
  const end = lines.indexOf('', start);
  const reason = (start === -1 ? [] : lines.slice(start, end === -1 ? undefined : end))
    .join(' ')
    .replace(/^(dumpcap|tshark): /, '')
    .replace(/\s+/g, ' ')
    .replace(/\.+$/, '');
  return reason === '' ? 'it exited without saying why (no privileges to capture?)' : reason.slice(0, 300);
}
