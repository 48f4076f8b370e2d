import { Argument, Command, CommanderError, Option } from 'commander';
import { CannotRunError, InputError } from '../model/errors.js';
import { BUILTIN_ORDER } from '../catalog/builtinScenarios.js';
import { SHELLS, completionScript } from './completion.js';
import type { Shell, ValueCompletion } from './completion.js';
import { LAB_CLOSE_MODES, LAB_GOAWAY_STYLES, LAB_PING_POLICIES } from '../model/result.js';
import { SERVE_DEFAULTS, SERVE_HTTP2_DEFAULTS, SERVE_LISTEN } from '../options/labProfiles.js';
import { RUN_DEFAULTS } from '../options/runConfig.js';
import { VERSION } from '../util/version.js';
import { EXIT } from '../verdict/exitCode.js';
import type { RunCommandFlags } from './runCommand.js';
import type { ServeFlags } from './serveCommand.js';
import type { AnalyzeFlags } from './analyzeCommand.js';
import { CLIENT_NAMES } from '../catalog/clientNames.js';
import { PRESETS } from '../catalog/presets.js';
import { collect, durationArg, formatFlagDuration, headerArg, integerArg, methodArg, portArg, positiveDurationArg } from './options.js';
import { stdoutIsNotTerminal, writeError, writeStdoutSync } from './io.js';

/**
 * The CLI: parse options, run, render, compute the exit code. The only module (with the
 * commands it calls) that touches `process`; it returns the exit code instead of exiting so
 * output streams drain.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const outcome: Outcome = { code: EXIT.ok };
  const program = buildProgram(outcome);
  try {
    await program.parseAsync(jsonBeforeUrl(argv), { from: 'user' });
    return outcome.code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its one-line message; help and version are not errors.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    // Bad input of any kind (flags, URL, scenario file, expectation): one line, exit 2.
    if (err instanceof InputError) {
      writeError(err.describe());
      return EXIT.usage;
    }
    // The command cannot run here (tshark missing, no room to split a capture): one line saying what to do.
    if (err instanceof CannotRunError) {
      writeError(err.describe());
      return EXIT.unprobeable;
    }
    const message = err instanceof Error ? err.message : String(err);
    writeError(`internal error: ${message} (this is a bug; set KEEPALIVE_PROBE_DEBUG=1 for a stack trace)`);
    if (process.env.KEEPALIVE_PROBE_DEBUG === '1' && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`);
    return EXIT.internal;
  }
}

/** --port of analyze, repeatable. */
function portList(value: string, previous: readonly number[] | undefined): number[] {
  return [...(previous ?? []), integerArg(1, 65535)(value)];
}

/** --stream of analyze, repeatable. */
function streamList(value: string, previous: readonly number[] | undefined): number[] {
  return [...(previous ?? []), integerArg(0, Number.MAX_SAFE_INTEGER)(value)];
}

/** A commander value parser (its second argument is the option's previous value). */
// biome-ignore lint/suspicious/noExplicitAny: commander's argParser takes a parser of any option's value type.
type Parser = (value: string, previous: any) => unknown;

/**
 * An option of `run`. `env`: the environment variable KEEPALIVE_PROBE_<LONG_NAME> gives its
 * default (the command line wins), so a CI job can set it once; `shown`: the default as a
 * user types it, for --help.
 */
function option(
  flags: string,
  description: string,
  settings: { parse?: Parser; value?: unknown; shown?: string; env?: boolean; choices?: readonly string[] } = {},
): Option {
  const o = new Option(flags, description);
  if (settings.parse !== undefined) o.argParser(settings.parse as (value: string, previous: unknown) => unknown);
  if (settings.choices !== undefined) o.choices(settings.choices);
  if (settings.value !== undefined) o.default(settings.value, settings.shown);
  if (settings.env === true)
    o.env(
      `KEEPALIVE_PROBE_${o
        .attributeName()
        .replace(/[A-Z]/g, (c) => `_${c}`)
        .toUpperCase()}`,
    );
  return o;
}

/** Every option of `run`, in --help order. Repeatable options have no default to show: none given is an empty list. */
function runOptions(): Option[] {
  const duration = positiveDurationArg;
  return [
    option('--json [file]', 'write the JSON report (docs/json-report.md) to a file, or to stdout (no value or -; the terminal report then goes to stderr)'),
    option('--junit <file>', 'write a JUnit XML report (one test case per scenario) to a file, or - for stdout', { env: true }),
    option('--html <file>', 'write a self-contained HTML report with a timeline of every connection to a file, or - for stdout', { env: true }),
    option(
      '--hop <name=url>',
      'probe this hop too, listed from the client inward (a load balancer, then its backend; repeatable): each hop must keep idle connections open longer than the hop in front of it',
      { parse: collect },
    ),
    option(
      '--client <name>',
      `the HTTP client you run (${CLIENT_NAMES.join(', ')}): the report says whether it reuses dead connections and what to set (docs/clients.md)`,
      { env: true },
    ),
    option('--client-idle <duration>', "your client pool's idle limit as configured (overrides the profile's default)", { parse: duration, env: true }),
    option('-q, --quiet', 'no terminal report (the reports asked for, errors and the exit code only)'),
    option('-v, --verbose', 'the terminal report with every connection timeline, the race table and every client column'),
    option('-s, --scenario <id|file>', 'run only this scenario: a built-in id or a scenario file (repeatable)', { parse: collect }),
    option('--max-idle <duration>', 'longest wait for the server to close an idle connection', {
      parse: duration,
      value: RUN_DEFAULTS.maxIdleMs,
      shown: formatFlagDuration(RUN_DEFAULTS.maxIdleMs),
      env: true,
    }),
    option('--max-requests <n>', 'most requests sent on one connection looking for a cap', {
      parse: integerArg(1, 100_000),
      value: RUN_DEFAULTS.maxRequests,
      env: true,
    }),
    option('--connect-timeout <duration>', 'deadline for TCP connect and TLS handshake', {
      parse: duration,
      value: RUN_DEFAULTS.connectTimeoutMs,
      shown: formatFlagDuration(RUN_DEFAULTS.connectTimeoutMs),
      env: true,
    }),
    option('--response-timeout <duration>', 'deadline from a request to the first response byte', {
      parse: duration,
      value: RUN_DEFAULTS.firstByteTimeoutMs,
      shown: formatFlagDuration(RUN_DEFAULTS.firstByteTimeoutMs),
      env: true,
    }),
    option('--headers-timeout <duration>', 'deadline from a request to the end of the response head', {
      parse: duration,
      value: RUN_DEFAULTS.headersTimeoutMs,
      shown: formatFlagDuration(RUN_DEFAULTS.headersTimeoutMs),
      env: true,
    }),
    option('--body-timeout <duration>', 'deadline from the response head to the end of the body', {
      parse: duration,
      value: RUN_DEFAULTS.bodyTimeoutMs,
      shown: formatFlagDuration(RUN_DEFAULTS.bodyTimeoutMs),
      env: true,
    }),
    option('--scenario-timeout <duration>', 'deadline for a whole scenario (default: --max-idle plus 2m)', { parse: duration, env: true }),
    option('-X, --method <method>', 'request method', { parse: methodArg, value: RUN_DEFAULTS.method, shown: RUN_DEFAULTS.method, env: true }),
    option('-H, --header <header>', 'extra request header "Name: value" (repeatable)', { parse: headerArg }),
    option(
      '-e, --expect <expectation>',
      'fail (exit 1) unless this holds, e.g. "idle-timeout>=60s", "reuse", "timeout-mismatch.outcome=ok" (repeatable; docs/expectations.md)',
      { parse: collect },
    ),
    option('--behind <preset>', `gate for the hop in front of the server: ${Object.keys(PRESETS).join(', ')} (repeatable)`, { parse: collect }),
    option('-k, --insecure', 'do not verify the TLS certificate', { env: true }),
    option(
      '--resolve <host:port:address>',
      'connect to this IP address for host:port, as curl does (one backend behind a name); the URL still names the server in Host, TLS SNI and the certificate check (repeatable)',
      { parse: collect },
    ),
    option('--cacert <file>', "trust the CA certificates in this PEM file (an internal CA), besides Node's bundled ones and NODE_EXTRA_CA_CERTS", {
      env: true,
    }),
    option(
      '--protocol <which>',
      'protocols to probe: auto (HTTP/1.1, and HTTP/2 when the target speaks it: ALPN h2 over TLS, prior knowledge over TCP), http1, h2',
      { choices: ['auto', 'http1', 'h2'], value: 'auto', shown: 'auto', env: true },
    ),
    option(
      '--capture [file]',
      "capture the probe's connections with dumpcap while probing and time every timing metric on the wire (kernel timestamps) instead of the event loop; keep the capture in this pcapng file (docs/analyze.md)",
    ),
    option('--socket-table <which>', 'where to read socket states (who holds TIME_WAIT): auto (/proc/net/tcp, else netstat -an), proc, netstat, none', {
      choices: ['auto', 'proc', 'netstat', 'none'],
      value: 'auto',
      shown: 'auto',
      env: true,
    }),
    option(
      '--timekeeper <when>',
      "which timed idle samples a thread of their own stamps (the probe's own work cannot delay those stamps): auto (all of them on a machine busy as the run starts, else those taken again after a stamp over 30 ms late), always, never",
      { choices: ['auto', 'always', 'never'], value: 'auto', shown: 'auto', env: true },
    ),
    option('--color <when>', 'colour on the terminal: auto, always, never (FORCE_COLOR and NO_COLOR are honoured)', {
      choices: ['auto', 'always', 'never'],
      value: 'auto',
      shown: 'auto',
      env: true,
    }),
  ];
}

/** The values an option's argument completes to, beyond commander's choices (cli/completion.ts). */
function completionValues(command: string, option: string): ValueCompletion {
  if (['--json', '--junit', '--html', '--cacert', '--tls-keylog', '--capture'].includes(option) || (command === 'list' && option === '--scenario'))
    return 'file';
  if (option === '--scenario') return BUILTIN_ORDER;
  if (option === '--client') return CLIENT_NAMES;
  if (option === '--behind') return Object.keys(PRESETS);
  return null;
}

/**
 * `run --json https://host` means JSON on stdout for that URL, not a file named after it:
 * `--json` takes an optional file, so spell out the stdout choice before a URL.
 */
function jsonBeforeUrl(argv: readonly string[]): string[] {
  const url = (i: number): boolean => /^https?:\/\//i.test(argv[i + 1] ?? '');
  // `--capture URL` likewise captures without keeping a file (`--capture=`), and probes URL.
  return argv.flatMap((arg, i) => (arg === '--json' && url(i) ? [arg, '-'] : arg === '--capture' && url(i) ? ['--capture='] : [arg]));
}

/**
 * Commander's own messages (an unknown option, a bad value): the same one-line format as
 * every other error, `keepalive-probe: <what>`, its "did you mean" on the same line. Help
 * and --version off a terminal: one write to fd 1 without creating process.stdout (cli/io.ts),
 * at commander's width there (80 columns); the help has no colour to keep or strip. On a
 * terminal, commander's stream and the terminal's width.
 */
const OUTPUT = {
  ...(stdoutIsNotTerminal() ? { writeOut: writeStdoutSync, getOutHelpWidth: (): number => 80, getOutHasColors: (): boolean => false } : {}),
  writeErr: (text: string): void => void process.stderr.write(text),
  outputError: (text: string, write: (s: string) => void): void =>
    write(
      `keepalive-probe: ${text
        .trim()
        .replace(/^error: /, '')
        .replace(/\s*\n\s*/g, ' ')
        .replace('(Did you mean', '(did you mean')} (--help for usage)\n`,
    ),
};

/** Where a command's action leaves its exit code. */
interface Outcome {
  code: number;
}

function buildProgram(outcome: Outcome): Command {
  const program = new Command('keepalive-probe')
    .description('Tells the truth about HTTP keep-alive between a client and a server.')
    .version(VERSION)
    .exitOverride()
    .configureOutput(OUTPUT);

  const run = program
    .command('run')
    .description('probe a server (or, with no URL, the embedded lab server) and report its keep-alive behaviour')
    .argument('[url]', 'http:// or https:// URL to probe; omitted: the embedded lab server with a demo profile');
  for (const option of runOptions()) run.addOption(option);
  // Each command loads its modules when it runs: --version and --help load none of them.
  run.action(async (url: string | undefined, opts: RunCommandFlags) => {
    outcome.code = await (await import('./runCommand.js')).runCommand(url, opts);
  });

  program
    .command('analyze')
    .description('read a packet capture (pcap, pcapng) of HTTP/1.x traffic and report its keep-alive behaviour with the same verdicts as run (needs tshark)')
    .argument('<capture>', 'the capture file (tcpdump -s 0 -w file.pcap, dumpcap -w file.pcapng: docs/analyze.md)')
    .option('--port <port>', 'only connections with this TCP port on either side (repeatable)', portList)
    .option('--host <address>', 'only connections with this IP address on either side (repeatable)', collect)
    .option('--stream <n>', 'only this TCP stream, as tshark numbers them (tcp.stream; repeatable)', streamList)
    .option('--tls-keylog <file>', 'decrypt TLS with this key log (SSLKEYLOGFILE format) to see the HTTP inside')
    .option('--json [file]', 'write the JSON report (docs/json-report.md) to a file, or to stdout (no value or -)')
    .option('--junit <file>', 'write a JUnit XML report to a file, or - for stdout')
    .option('--html <file>', 'write a self-contained HTML report to a file, or - for stdout')
    .option('-e, --expect <expectation>', 'fail (exit 1) unless this holds, e.g. "idle-timeout>=60s", "stale-race.staleRequests=0" (repeatable)', collect)
    .option('--client <name>', `the HTTP client that made the traffic (${CLIENT_NAMES.join(', ')})`)
    .option('--client-idle <duration>', "that client pool's idle limit as configured", positiveDurationArg)
    .option('-q, --quiet', 'no terminal report')
    .option('-v, --verbose', 'the terminal report with every connection timeline kept')
    .addOption(new Option('--color <when>', 'colour on the terminal: auto, always, never').choices(['auto', 'always', 'never']).default('auto'))
    .action(async (file: string, opts: AnalyzeFlags) => {
      outcome.code = await (await import('./analyzeCommand.js')).analyzeCommand(file, opts);
    });

  program
    .command('serve')
    .description('run the embedded lab server with the keep-alive behaviour set by flags (Ctrl-C stops it)')
    .option('--port <port>', 'TCP port; 0 picks a free one (printed)', portArg, SERVE_LISTEN.port)
    .option('--host <address>', 'address to listen on', SERVE_LISTEN.host)
    .option('--idle-timeout <duration>', 'close connections idle this long (0s = never)', durationArg, SERVE_DEFAULTS.idleTimeoutMs)
    .option('--max-requests <n>', 'close a connection after this many responses (0 = no cap)', integerArg(0, 1_000_000), SERVE_DEFAULTS.maxRequests)
    .addOption(
      new Option('--http10 <mode>', 'HTTP/1.0 with "Connection: keep-alive": keep-alive or close')
        .choices(['keep-alive', 'close'])
        .default(SERVE_DEFAULTS.http10),
    )
    .addOption(
      new Option(
        '--close <how>',
        'how the server closes: fin (full close), rst (abortive), half (FIN, keeps reading), drop (idle close without telling the client)',
      )
        .choices([...LAB_CLOSE_MODES])
        .default(SERVE_DEFAULTS.close),
    )
    .option('--advertise', 'send "Keep-Alive: timeout=..., max=..." on persistent responses')
    .option('--no-announce-last', 'close after the last request without "Connection: close"')
    .option('--tls', 'serve HTTPS with a self-signed certificate made at start (ALPN h2 with --http2, else http/1.1)')
    .option('--http2', 'also speak HTTP/2 (h2c with prior knowledge) on the same port; the idle timeout and request cap apply to it (docs/lab.md)')
    .addOption(
      new Option(
        '--goaway <style>',
        'HTTP/2: how a connection ends: graceful (GOAWAY 2^31-1 + PING, then GOAWAY last stream, as gRPC-Go), immediate (one GOAWAY, as nginx), none (close without GOAWAY)',
      )
        .choices([...LAB_GOAWAY_STYLES])
        .default(SERVE_HTTP2_DEFAULTS.goaway),
    )
    .addOption(
      new Option('--close-after-goaway <duration>', 'HTTP/2: TCP close this long after the last GOAWAY, once no stream is open (Go: 1s, nginx: 0s)')
        .argParser(durationArg)
        .default(SERVE_HTTP2_DEFAULTS.closeAfterGoawayMs, formatFlagDuration(SERVE_HTTP2_DEFAULTS.closeAfterGoawayMs)),
    )
    .option(
      '--max-concurrent-streams <n>',
      'HTTP/2: SETTINGS_MAX_CONCURRENT_STREAMS (0 = not sent, no limit)',
      integerArg(0, 2 ** 31 - 1),
      SERVE_HTTP2_DEFAULTS.maxConcurrentStreams,
    )
    .addOption(
      new Option(
        '--ping-policy <policy>',
        'HTTP/2: ok (answer every PING) or strict (GOAWAY ENHANCE_YOUR_CALM "too_many_pings" on the third strike, as gRPC-Go)',
      )
        .choices([...LAB_PING_POLICIES])
        .default(SERVE_HTTP2_DEFAULTS.pingPolicy),
    )
    .addOption(
      new Option(
        '--ping-min-interval <duration>',
        'HTTP/2, --ping-policy strict: a PING sooner than this after the previous one, with no response in between, is a strike (gRPC-Go: 5m)',
      )
        .argParser(durationArg)
        .default(SERVE_HTTP2_DEFAULTS.pingMinIntervalMs, formatFlagDuration(SERVE_HTTP2_DEFAULTS.pingMinIntervalMs)),
    )
    .option('--ping-resets-idle', 'HTTP/2: a PING restarts the idle timer (Go, Envoy and AWS ALB do not)')
    .action(async (opts: ServeFlags) => {
      outcome.code = await (await import('./serveCommand.js')).serveCommand(opts);
    });

  program
    .command('list')
    .description('list the scenarios (built-in, and files given with --scenario)')
    .option('-s, --scenario <file>', 'also list this scenario file (repeatable)', collect, [])
    .action(async (opts: { scenario: string[] }) => {
      outcome.code = await (await import('./listCommand.js')).listCommand(opts.scenario);
    });

  program
    .command('completion')
    .description('print a shell completion script: bash (source <(keepalive-probe completion bash)), zsh, fish')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .action((shell: Shell) => {
      process.stdout.write(completionScript(shell, program, completionValues));
    });

  program
    .command('explain')
    .description(
      'explain an error text as a client printed it (ECONNRESET, EPIPE, "socket hang up", NoHttpResponseException, PrematureCloseException, 502, connection refused, ...)',
    )
    .argument('<error...>', 'the error text, as your client printed it')
    .action(async (words: string[]) => {
      outcome.code = (await import('./explainCommand.js')).explainCommand(words);
    });

  for (const command of program.commands) {
    command.exitOverride().configureOutput(OUTPUT);
  }
  return program;
}
