/** Every table of the Reelstream database; drizzle-kit reads this file to generate migrations. */
export * from "./sessions/index.ts";
export * from "./users/index.ts";
