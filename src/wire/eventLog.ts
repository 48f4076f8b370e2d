import { SMALL_BODY_MAX, SPLIT_KEPT_MS } from '../model/events.js';
import type { ConnEvent, ElidedCounts } from '../model/events.js';

/**
 * A connection's event log with bounded memory: the events of its first `head` exchanges and
 * of its last `tail` ones are kept in full; whole exchanges between them are folded into one
 * `elided` event that counts them (model/events.ts). Each push costs the same however many
 * requests went before (a fold moves at most the tail's events), so a loop of 20 000 requests
 * keeps a few hundred events, not 60 000 (HTTP/1) or 140 000 (HTTP/2, where every frame is one).
 * Exchanges past the tail are folded FOLD_BATCH at a time, or as soon as `events` is read:
 * whoever reads the events sees them folded as if one by one, and a loop moves the tail's events
 * once every FOLD_BATCH requests instead of on every one (`recent` reads the newest without it).
 *
 * Only what no query needs one by one is folded: an exchange is a stretch that ends when no
 * request is left outstanding, and it is folded only when it holds nothing but requests,
 * responses that kept the connection alive, and HEADERS, CONTINUATION, DATA or WINDOW_UPDATE
 * frames. An exchange with anything else (a close, an error, a deadline, a GOAWAY, SETTINGS,
 * a PING, RST_STREAM, a 1xx), or with a small body that came SPLIT_KEPT_MS or more after its
 * head (a stall), stays in full where it was, and the elided stretches around it stay apart,
 * so the order of everything that decides a verdict is kept.
 */
export class EventLog {
  private readonly log: ConnEvent[] = [];
  /**
   * Requests written and not yet ended (answered, refused, timed out), and when each one's
   * response head came (null: not yet). Two arrays, not a Map: HTTP/1 has one request out at a
   * time, and a Map emptied on every response shrank and rebuilt its table every time.
   */
  private readonly outstanding: number[] = [];
  private readonly outstandingHead: (number | null)[] = [];
  /** Exchanges completed while the head fills. */
  private headExchanges = 0;
  /** Where the exchanges that may still be folded begin; -1 while the head fills. */
  private foldFrom = -1;
  /** Index of the elided event just before foldFrom, when there is one to grow. */
  private elidedAt: number | null = null;
  /**
   * The complete exchanges after foldFrom, oldest first: where each ends (exclusive) and
   * whether it may be folded. `end` counts the events folded away before it was recorded, so
   * a fold (which only removes events before every exchange here) updates one counter, not
   * each of the tail's ends: its place in the log is `end - removed`.
   */
  private readonly exchanges: { end: number; foldable: boolean }[] = [];
  /** Events removed from the log by folds so far. */
  private removed = 0;
  private filling = true;

  /** `compaction` null: every event is kept (a capture of the probe's own connections, tests). */
  constructor(private readonly compaction: Compaction | null = DEFAULT_COMPACTION) {
    if (compaction !== null && (compaction.head < 1 || compaction.tail < 1)) throw new RangeError('an event log keeps at least one exchange at each end');
  }

  /** The events: the log itself, not a copy (its middle is folded in place as the connection goes on). */
  get events(): readonly ConnEvent[] {
    if (this.compaction !== null && this.exchanges.length > this.compaction.tail) this.foldPastTail(this.compaction.tail);
    return this.log;
  }

  /**
   * The log as it stands, the oldest exchanges past the tail perhaps not folded yet: the same
   * newest events as `events` (the tail is never folded), for a query that reads back from the
   * end (mayReuse before each request of a loop) without folding on every call.
   */
  get recent(): readonly ConnEvent[] {
    return this.log;
  }

  push(e: ConnEvent): void {
    this.log.push(e);
    const { compaction } = this;
    if (compaction === null) return;
    if (!foldable(e) || this.stalled(e)) this.filling = false;
    if (e.kind === 'request') {
      const at = this.outstanding.indexOf(e.index);
      if (at < 0) {
        this.outstanding.push(e.index);
        this.outstandingHead.push(null);
      } else this.outstandingHead[at] = null;
    }
    if (e.kind === 'response-head') {
      const at = this.outstanding.indexOf(e.index);
      if (at >= 0) this.outstandingHead[at] = e.t;
    }
    const ended = endedRequest(e);
    if (ended === null || !this.endOutstanding(ended) || this.outstanding.length > 0) return;
    // Nothing outstanding: an exchange ends here.
    if (this.foldFrom < 0) {
      this.headExchanges += 1;
      if (this.headExchanges >= compaction.head) {
        this.foldFrom = this.log.length;
        this.filling = true;
      }
      return;
    }
    this.exchanges.push({ end: this.log.length + this.removed, foldable: this.filling });
    this.filling = true;
    if (this.exchanges.length >= compaction.tail + FOLD_BATCH) this.foldPastTail(compaction.tail);
  }

  /** A small body that arrived SPLIT_KEPT_MS or more after its head: the stall finding reads it one by one. */
  private stalled(e: ConnEvent): boolean {
    if (e.kind !== 'response-complete' || e.bodyBytes === 0 || e.bodyBytes > SMALL_BODY_MAX) return false;
    const at = this.outstanding.indexOf(e.index);
    const head = at < 0 ? null : this.outstandingHead[at];
    return head !== undefined && head !== null && e.t - head >= SPLIT_KEPT_MS;
  }

  /** Takes request `index` off the outstanding ones; false when it was not among them. */
  private endOutstanding(index: number): boolean {
    const at = this.outstanding.indexOf(index);
    if (at < 0) return false;
    // The last one moves into its place: the order of outstanding requests says nothing.
    const lastIndex = this.outstanding.pop() as number;
    const lastHead = this.outstandingHead.pop() as number | null;
    if (at < this.outstanding.length) {
      this.outstanding[at] = lastIndex;
      this.outstandingHead[at] = lastHead;
    }
    return true;
  }

  /**
   * Folds the exchanges before the last `tail`, oldest first: each stretch of foldable ones
   * into the elided event before it (one splice per stretch); one that holds more than
   * exchanges stays in full, and the stretch after it starts a new elided event.
   */
  private foldPastTail(tail: number): void {
    const past = this.exchanges.length - tail;
    let i = 0;
    while (i < past) {
      const start = this.foldFrom;
      let end = start;
      for (let x = this.exchanges[i]; i < past && x?.foldable === true; x = this.exchanges[++i]) end = x.end - this.removed;
      if (end > start) this.foldStretch(start, end);
      else {
        this.foldFrom = (this.exchanges[i]?.end ?? 0) - this.removed;
        this.elidedAt = null;
        i += 1;
      }
    }
    // One splice for the batch: shifting them off one by one moved the tail's entries each time.
    if (past > 0) this.exchanges.splice(0, past);
  }

  /** Folds log[start, end), whole exchanges right after foldFrom, into the elided event before them (or a new one). */
  private foldStretch(start: number, end: number): void {
    const previous = this.elidedAt === null ? null : this.log[this.elidedAt];
    const summary = fold(previous?.kind === 'elided' ? previous : null, this.log, start, end);
    if (this.elidedAt === null) {
      this.log.splice(start, end - start, summary);
      this.elidedAt = start;
      this.foldFrom = start + 1;
      this.removed += end - start - 1;
    } else {
      this.log[this.elidedAt] = summary;
      this.log.splice(start, end - start);
      this.removed += end - start;
    }
  }
}

/** How many exchanges a log keeps in full at each end; `head` at least 1 (the first exchange is never elided: measures read it as the one before reuse). */
export interface Compaction {
  readonly head: number;
  readonly tail: number;
}

/** Enough for every scenario's metrics and the reports' timelines (the terminal shows 24 events, the HTML lanes a few hundred). */
export const DEFAULT_COMPACTION: Compaction = { head: 64, tail: 64 };

/** How many exchanges past the tail wait to be folded together when nobody reads the events meanwhile. */
const FOLD_BATCH = 32;

const ROUTINE_FRAMES = new Set(['HEADERS', 'CONTINUATION', 'DATA', 'WINDOW_UPDATE']);

function foldable(e: ConnEvent): boolean {
  switch (e.kind) {
    case 'request':
    case 'response-complete':
      return true;
    case 'response-head':
      return e.keepAlive && e.informational.length === 0;
    case 'h2-frame':
      return ROUTINE_FRAMES.has(e.frame.type);
    default:
      return false;
  }
}

/** The request an event ends, if it ends one. */
function endedRequest(e: ConnEvent): number | null {
  switch (e.kind) {
    case 'response-complete':
    case 'protocol-error':
      return e.index;
    case 'timeout':
      return e.index;
    default:
      return null;
  }
}

/** The elided event that also counts log[from, to). */
function fold(
  previous: Extract<ConnEvent, { kind: 'elided' }> | null,
  log: readonly ConnEvent[],
  from: number,
  to: number,
): Extract<ConnEvent, { kind: 'elided' }> {
  const c: { -readonly [K in keyof ElidedCounts]: ElidedCounts[K] } =
    previous === null
      ? { events: 0, requests: 0, firstIndex: 0, lastIndex: 0, responses: 0, frames: 0, requestBytes: 0, bodyBytes: 0, smallBodies: 0 }
      : { ...previous.counts };
  let t = previous?.t ?? log[from]?.t ?? 0;
  let last = previous?.to ?? t;
  for (let i = from; i < to; i++) {
    const e = log[i] as ConnEvent;
    if (previous === null && i === from) t = e.t;
    last = e.t;
    c.events += 1;
    if (e.kind === 'request') {
      if (c.requests === 0) c.firstIndex = e.index;
      c.lastIndex = e.index;
      c.requests += 1;
      c.requestBytes += e.bytes;
    } else if (e.kind === 'response-complete') {
      c.responses += 1;
      c.bodyBytes += e.bodyBytes;
      if (e.bodyBytes > 0 && e.bodyBytes <= SMALL_BODY_MAX) c.smallBodies += 1;
    } else if (e.kind === 'h2-frame') c.frames += 1;
  }
  return { kind: 'elided', t, to: last, counts: c };
}
