import type { UserCopiesMessage } from "../durable-objects/viewer-state/user-copies.ts";

/**
 * The user copies the test Worker's `ViewerState` objects handed to the queue, in order (they are
 * still sent: the local stack's consumer gets them). In the Worker's tests the objects run in the
 * test's isolate, so a test reads what an alarm sent here, and delivers it by hand.
 */
export const sentUserCopies: UserCopiesMessage[] = [];

/**
 * Set in the Worker tests' bindings (vitest.config.ts): the queue's own deliveries of user copies
 * are dropped, as lost messages are, and the tests deliver what the objects sent by hand, when
 * they choose (workers/test/user-copies.ts). The local stack leaves it unset: its queue delivers.
 */
export const USER_COPIES_BY_HAND = "TEST_USER_COPIES_BY_HAND";
