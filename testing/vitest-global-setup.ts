import { stopTestDatabases } from "./test-database.ts";

export default function setup() {
  return () => stopTestDatabases();
}
