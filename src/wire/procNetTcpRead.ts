import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { TableParser } from './procNetTcp.js';
import type { RowFilter, TcpRow } from './procNetTcp.js';

// Reading /proc/net/tcp and /proc/net/tcp6 (Linux): in pieces, parsed as they come (TableParser).

const TABLES = ['/proc/net/tcp', '/proc/net/tcp6'];

/** How much of a table one read takes: a few reads for thousands of rows. */
const CHUNK_BYTES = 64 * 1024;

/** A read asked for and not yet begun. */
interface Waiting {
  readonly filter: RowFilter;
  readonly resolve: (rows: TcpRow[] | null) => void;
}

/** Reads asked for while the tables were being read: the next pass serves them all. */
let waiting: Waiting[] = [];
let reading = false;
/** The one buffer of the asynchronous reads (one pass at a time). */
let asyncBuffer: Buffer | null = null;

/**
 * Reads the rows of both socket tables that `filter` wants; null where neither table can be
 * read (not Linux). Every read asked for while a pass is under way waits for the next pass,
 * which serves them all: each still sees the tables as they were after it asked, and the
 * scenarios that end together (each reads the tables as it ends, polling) share their reads
 * instead of each holding a buffer and its text.
 */
export function readTcpRows(filter: RowFilter): Promise<TcpRow[] | null> {
  return new Promise((resolve) => {
    waiting.push({ filter, resolve });
    if (!reading) void readForWaiting();
  });
}

async function readForWaiting(): Promise<void> {
  reading = true;
  try {
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
      const tables: (TcpRow[][] | null)[] = [];
      for (const file of TABLES)
        tables.push(
          await readTable(
            file,
            batch.map((w) => w.filter),
          ),
        );
      for (const [i, w] of batch.entries()) w.resolve(rowsOf(tables.map((rows) => rows?.[i] ?? null)));
    }
  } finally {
    reading = false;
  }
}

/** The rows each filter wants from one table; null when it cannot be read. */
async function readTable(file: string, filters: readonly RowFilter[]): Promise<TcpRow[][] | null> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch {
    return null;
  }
  try {
    const parsers = filters.map((filter) => new TableParser(filter));
    asyncBuffer ??= Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await handle.read(asyncBuffer, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) return parsers.map((parser) => parser.end());
      const piece = asyncBuffer.toString('latin1', 0, bytesRead);
      for (const parser of parsers) parser.push(piece);
    }
  } catch {
    return null;
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** One buffer for every synchronous read (they cannot overlap). */
let syncBuffer: Buffer | null = null;

/**
 * The same, read synchronously: for the one moment the socket's state must be read before
 * the event loop moves on (see ProbeConnection.resetSeenAsEnd).
 */
export function readTcpRowsSync(filter: RowFilter): TcpRow[] | null {
  return rowsOf(
    TABLES.map((file) => {
      let fd: number;
      try {
        fd = openSync(file, 'r');
      } catch {
        return null;
      }
      try {
        const parser = new TableParser(filter);
        syncBuffer ??= Buffer.allocUnsafe(CHUNK_BYTES);
        for (;;) {
          const bytesRead = readSync(fd, syncBuffer, 0, CHUNK_BYTES, null);
          if (bytesRead === 0) return parser.end();
          parser.push(syncBuffer.toString('latin1', 0, bytesRead));
        }
      } catch {
        return null;
      } finally {
        closeSync(fd);
      }
    }),
  );
}

function rowsOf(tables: readonly (TcpRow[] | null)[]): TcpRow[] | null {
  if (tables.every((rows) => rows === null)) return null;
  return tables.flatMap((rows) => rows ?? []);
}
