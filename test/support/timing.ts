/**
 * How late the probe may stamp a segment's arrival on a loaded machine, the bound every test
 * uses for "the probe reads at most this much short" (an idle time measured from a late
 * response stamp) and for probe-versus-wire agreement. The probe stamps in user space, in one
 * event loop shared by every scenario of the run, so the delay is scheduling and its own
 * loop's work, not a property of the server: up to 4 ms with one scenario alone, 16.5 ms with
 * five scenarios in one process, 25.1 ms for the demo's idle-timeout (eight scenarios, the lab
 * in the same process) beside four busy processes, and 43.7 ms once in CI (Apache, tshark on
 * the wire, every test file running on the 2 cores). Still 2.5 % of a 2 s setting: it tells
 * 2 s from 3 s, and catches a probe timing the wrong interval.
 */
export const PROBE_LAG_MS = 50;
