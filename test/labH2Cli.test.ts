import { execFile, spawn } from 'node:child_process';
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_PROFILE } from '../src/options/labProfiles.js';
import { BIN, runCli } from './support/cli.js';

const children: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Starts `serve` and waits (at most 10 s) until its stderr holds the HTTP/2 banner line. */
async function serve(args: readonly string[]): Promise<{ url: string; stderr: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 10_000;
  while (!(stdout.includes('\n') && stderr.includes('HTTP/2'))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`serve never got ready: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    url: stdout.split('\n')[0] as string,
    stderr: () => stderr,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

describe('serve --http2', () => {
  it('says its HTTP/2 settings in one banner line and serves h2c with them on the URL it prints', async () => {
    const lab = await serve(['--http2', '--goaway', 'graceful', '--close-after-goaway', '1s', '--max-concurrent-streams', '9', '--ping-policy', 'strict']);
    const banner = lab.stderr().split('\n')[1];
    expect(banner).toBe(
      '  and HTTP/2 (h2c, prior knowledge) on the same port: graceful GOAWAY (2^31-1 + PING, then last stream), TCP close 1 s after it, max 9 concurrent streams, strict PING policy (min interval 5 min), PING does not reset the idle timer',
    );
    const session = http2.connect(lab.url);
    session.on('error', () => undefined);
    try {
      const settings = await new Promise<http2.Settings>((resolve, reject) => {
        session.once('remoteSettings', resolve);
        setTimeout(() => reject(new Error('no SETTINGS within 2 s')), 2000);
      });
      expect(settings.maxConcurrentStreams).toBe(9);
      const status = await new Promise<number | undefined>((resolve, reject) => {
        const req = session.request({ ':path': '/' });
        req.on('response', (headers) => resolve(headers[':status']));
        req.on('error', reject);
        setTimeout(() => reject(new Error('no response within 2 s')), 2000);
      });
      expect(status).toBe(200);
    } finally {
      session.destroy();
    }
    expect(await lab.stop()).toBe(0);
  });

  it('--tls: an https:// URL, a TLS line and ALPN h2 in the banner; curl -k --http2 gets HTTP/2', async () => {
    const lab = await serve(['--tls', '--http2']);
    expect(lab.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    const lines = lab.stderr().split('\n');
    expect(lines[1]).toBe('  over TLS with a self-signed certificate made at start (clients need -k / --insecure)');
    expect(lines[2]).toMatch(/^ {2}and HTTP\/2 \(ALPN h2\) on the same port: immediate GOAWAY/);
    const curl = await new Promise<string>((resolve, reject) =>
      execFile('curl', ['-sS', '-k', '--http2', '--max-time', '5', '-w', ' %{http_version}', lab.url], { timeout: 10_000 }, (err, stdout) =>
        err === null ? resolve(stdout) : reject(err),
      ),
    );
    expect(curl).toBe('keepalive-probe lab: response 1 on connection 1\n 2');
    expect(await lab.stop()).toBe(0);
  });

  it.each([
    [['--goaway', 'sometimes'], /--goaway.*sometimes.*graceful, immediate, none/],
    [['--ping-policy', 'lenient'], /--ping-policy.*lenient/],
    [['--max-concurrent-streams', '-1'], /--max-concurrent-streams.*whole number/],
    [['--close-after-goaway', 'soon'], /--close-after-goaway/],
    [['--ping-min-interval', '5'], /--ping-min-interval/],
  ])('bad input %j: one error line, exit 2', async (args, pattern) => {
    const { code, stderr } = await runCli(['serve', '--port', '0', '--http2', ...args]);
    expect(code).toBe(2);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^keepalive-probe: /);
    expect(stderr).toMatch(pattern);
  });
});

describe('run with no URL', () => {
  it('reports the demo lab with h2c enabled (the graceful drain)', async () => {
    const { code, stdout } = await runCli(['run', '--json', '-q', '-s', 'http11-reuse'], { timeoutMs: 30_000 });
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { target: { lab: { http2: unknown } } };
    expect(report.target.lab.http2).toEqual(DEMO_PROFILE.http2);
    expect(DEMO_PROFILE.http2).toMatchObject({ goaway: 'graceful' });
  });
});
