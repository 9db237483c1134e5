/** Every table of the Reelstream database; drizzle-kit reads this file to generate migrations. */
export * from "./plans/index.ts";
export * from "./recommendations/index.ts";
export * from "./search/index.ts";
export * from "./sessions/index.ts";
export * from "./subscriptions/index.ts";
export * from "./transcode-jobs/index.ts";
export * from "./users/index.ts";
export * from "./videos/index.ts";
export * from "./watch-progress/index.ts";
