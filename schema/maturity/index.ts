export * from "./ratings.ts";
