export * from "./columns.ts";
export * from "./table.ts";
