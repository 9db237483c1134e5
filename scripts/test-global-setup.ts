import { stopTestDatabases } from "./lib/test-database.ts";

export default function setup() {
  return () => stopTestDatabases();
}
