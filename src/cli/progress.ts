import type { ScenarioStatus } from '../model/result.js';
import { formatDuration } from '../util/duration.js';

/** How often a long wait reports itself. */
const TICK_MS = 5000;

/**
 * Progress on stderr while scenarios wait (idle timeouts of a minute are normal): which
 * scenarios are still running, for how long, and the bound. The caller enables it only on
 * a TTY and never with --json, so CI logs and pipes stay clean.
 */
export class Progress {
  private readonly running: Set<string>;
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    ids: readonly string[],
    private readonly maxIdleMs: number,
    private readonly write: (text: string) => void,
  ) {
    this.running = new Set(ids);
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  done(id: string, status: ScenarioStatus, durationMs: number): void {
    this.running.delete(id);
    this.write(`  ${id}: ${status} after ${formatDuration(durationMs)}\n`);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    if (this.running.size === 0) return;
    const elapsed = formatDuration(Math.round((performance.now() - this.started) / 1000) * 1000);
    this.write(`  … ${elapsed}: still waiting on ${[...this.running].join(', ')} (idle waits end by ${formatDuration(this.maxIdleMs)}, --max-idle)\n`);
  }
}
