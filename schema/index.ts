/** Every table of the Reelstream database; drizzle-kit reads this file to generate migrations. */
export * from "./maturity/index.ts";
export * from "./my-list/index.ts";
export * from "./plans/index.ts";
export * from "./recommendations/index.ts";
export * from "./search/index.ts";
export * from "./series/index.ts";
export * from "./sessions/index.ts";
export * from "./subscriptions/index.ts";
export * from "./transcode-jobs/index.ts";
export * from "./users/index.ts";
export * from "./video-ratings/index.ts";
export * from "./videos/index.ts";
export * from "./watch-progress/index.ts";
