import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, startServer } from '../support/realServer.js';

/**
 * Starting HAProxy and Tomcat for the real-server tests: each gets a temp dir holding
 * everything it reads and writes (config, pid file, CATALINA_BASE), runs in the foreground in
 * its own process group, and is stopped and its dir removed by `stop()`.
 */

/** A server started for a test, listening on 127.0.0.1:`port`. */
export interface StartedServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** What the server wrote so far (for failure messages). */
  output(): string;
  /** Stops the process group and removes `dir`. */
  stop(): Promise<void>;
}

/** What goes into the generated haproxy.cfg besides the fixed global section and backend. */
export interface HaproxyConfig {
  /** Lines of the `defaults` section after `mode http` (timeouts, options). */
  readonly defaults: readonly string[];
  /** The backend every request goes to. */
  readonly backendPort: number;
}

/**
 * `haproxy -f <cfg> -db`: no daemon, no chroot, no user switch, pid file in the temp dir,
 * one frontend on a free loopback port in front of one server line.
 */
export async function startHaproxy(bin: string, config: HaproxyConfig): Promise<StartedServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kap-haproxy-'));
  const port = await freePort();
  const cfg = path.join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      `  pidfile ${path.join(dir, 'haproxy.pid')}`,
      'defaults',
      '  mode http',
      ...config.defaults.map((line) => `  ${line}`),
      'frontend fe',
      `  bind 127.0.0.1:${port}`,
      '  default_backend be',
      'backend be',
      `  server lab 127.0.0.1:${config.backendPort}`,
      '',
    ].join('\n'),
  );
  const url = `http://127.0.0.1:${port}/`;
  return started(dir, port, url, () => startServer(bin, ['-f', cfg, '-db'], { cwd: dir, readyUrl: url }));
}

/** Where the Debian tomcat10 package puts CATALINA_HOME and the stock web.xml. */
export const CATALINA_HOME = '/usr/share/tomcat10';
const WEB_XML = ['/etc/tomcat10/web.xml', '/usr/share/tomcat10/etc/web.xml'];

/** The body Tomcat serves for GET / (webapps/ROOT/index.html). */
export const TOMCAT_BODY = 'hello from tomcat\n';

/**
 * `catalina.sh run` (the JVM in the foreground, exec'd by the script) with a CATALINA_BASE
 * written here: one HTTP/1.1 (NIO) Connector on 127.0.0.1 with `connector` attributes, no
 * shutdown port, the stock conf/web.xml (DefaultServlet for static files), and a ROOT webapp
 * holding index.html. Startup takes seconds, more on a busy machine.
 */
export async function startTomcat(catalinaSh: string, connector: Readonly<Record<string, string | number>>): Promise<StartedServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kap-tomcat-'));
  const port = await freePort();
  for (const sub of ['conf', 'logs', 'temp', 'work', 'webapps/ROOT']) mkdirSync(path.join(dir, sub), { recursive: true });
  const webXml = WEB_XML.find((p) => existsSync(p));
  if (webXml === undefined) throw new Error(`no stock web.xml in ${WEB_XML.join(' or ')}`);
  copyFileSync(webXml, path.join(dir, 'conf', 'web.xml'));
  writeFileSync(path.join(dir, 'webapps', 'ROOT', 'index.html'), TOMCAT_BODY);
  const attributes = Object.entries(connector)
    .map(([name, value]) => `${name}="${value}"`)
    .join(' ');
  writeFileSync(
    path.join(dir, 'conf', 'server.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector protocol="HTTP/1.1" address="127.0.0.1" port="${port}" ${attributes} />
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false" />
    </Engine>
  </Service>
</Server>
`,
  );
  const url = `http://127.0.0.1:${port}/`;
  return started(dir, port, url, () =>
    startServer(catalinaSh, ['run'], {
      cwd: dir,
      env: { CATALINA_HOME, CATALINA_BASE: dir, CATALINA_TMPDIR: path.join(dir, 'temp') },
      readyUrl: url,
      readyTimeoutMs: 60_000,
    }),
  );
}

async function started(dir: string, port: number, url: string, start: () => ReturnType<typeof startServer>): Promise<StartedServer> {
  try {
    const server = await start();
    return {
      url,
      port,
      dir,
      output: () => server.output(),
      stop: async () => {
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
