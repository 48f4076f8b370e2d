import { monitorEventLoopDelay } from 'node:perf_hooks';
import { roundMs } from '../util/duration.js';

/** Sampling interval of the loop-delay monitor, ms: a finer one would wake the loop more often. */
const LOOP_DELAY_RESOLUTION_MS = 10;

/**
 * Watches how late the event loop runs a timer due every LOOP_DELAY_RESOLUTION_MS
 * (perf_hooks.monitorEventLoopDelay records the interval between runs, in ns). stop() returns
 * the worst lateness in ms, to 0.1 ms: how late any event of the run may have been stamped.
 */
export function watchLoopDelay(): { stop(): number } {
  const histogram = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  histogram.enable();
  return {
    stop: () => {
      histogram.disable();
      const worst = histogram.count === 0 ? 0 : histogram.max / 1e6 - LOOP_DELAY_RESOLUTION_MS;
      return Math.max(0, roundMs(worst));
    },
  };
}
