import type { PGlite } from "@electric-sql/pglite";
import type { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/** One queued protocol message of one client connection (the shape pglite-socket uses). */
interface QueuedMessage {
  handlerId: number;
  message: Uint8Array;
  resolve(bytes: number): void;
  reject(error: unknown): void;
  onData(data: Uint8Array): void;
}

interface QueryQueue {
  db: PGlite;
  queue: QueuedMessage[];
  processing: boolean;
  lastHandlerId: number | null;
  processQueue(): Promise<void>;
  clearTransactionIfNeeded(handlerId: number): Promise<void>;
}

// Message types that end a unit of work in the Postgres protocol: Sync (extended query),
// Query (simple query), Terminate. A startup or SSL request begins with a length, whose first
// byte is 0 for any real message.
const UNIT_ENDS = new Set([0x53, 0x51, 0x58, 0x00]);

/**
 * pglite-socket multiplexes many client connections onto PGlite's single session, one protocol
 * message at a time. It keeps a connection's messages together only inside a transaction, so
 * the Parse/Bind/Execute/Sync of two connections' parameterised queries can interleave: PGlite
 * has one unnamed statement, and one client then binds the other's (wrong or empty results, and
 * a processing loop that stops for good after an error). This makes the queue stick to a
 * connection from its first message until the unit ends (Sync or a simple Query) and while a
 * transaction is open, and keeps the loop alive after an error. Test:
 * scripts/lib/embedded-postgres.test.ts.
 */
export function makeQueueExclusivePerUnit(server: PGLiteSocketServer): void {
  const queue = (server as unknown as { queryQueue: QueryQueue }).queryQueue;
  let midUnit = false;

  queue.processQueue = async function processQueue(this: QueryQueue) {
    if (this.processing || this.queue.length === 0) return;
    this.processing = true;
    try {
      while (this.queue.length > 0) {
        const holder = this.lastHandlerId;
        let item: QueuedMessage | undefined;
        if (holder !== null && (midUnit || this.db.isInTransaction())) {
          const index = this.queue.findIndex((queued) => queued.handlerId === holder);
          if (index === -1) break; // wait for the holder's next message
          item = this.queue.splice(index, 1)[0];
        } else {
          item = this.queue.shift();
        }
        if (!item) break;
        const current = item;
        this.lastHandlerId = current.handlerId;
        midUnit = !UNIT_ENDS.has(current.message[0] ?? 0);
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(current.message, {
              onRawData: (data: Uint8Array) => {
                bytes += data.length;
                current.onData(data);
              },
            }),
          );
          current.resolve(bytes);
        } catch (error) {
          midUnit = false;
          current.reject(error);
        }
      }
    } finally {
      this.processing = false;
    }
  };

  const clear = queue.clearTransactionIfNeeded.bind(queue);
  queue.clearTransactionIfNeeded = async function clearTransactionIfNeeded(this: QueryQueue, handlerId: number) {
    if (this.lastHandlerId === handlerId && midUnit && !this.db.isInTransaction()) {
      midUnit = false;
      this.lastHandlerId = null;
      await this.processQueue();
      return;
    }
    if (this.lastHandlerId === handlerId) midUnit = false;
    await clear(handlerId);
  };
}
