/**
 * Per-user copies written behind to Postgres: the consumer of the user-copies queue, on which each
 * user's `ViewerState` object sends what changed (durable-objects/viewer-state/user-copies.ts is
 * the wire). No routes.
 */
export { isUserCopiesQueue, requeueDeadUserCopies, USER_COPIES_DLQ, USER_COPIES_QUEUE, writeUserCopies } from "./consumer.ts";
