export * from "./maturity.ts";
export * from "./table.ts";
