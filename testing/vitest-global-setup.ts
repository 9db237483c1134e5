import { stopHungDatabase } from "./hung-database.ts";
import { stopTestDatabases } from "./test-database.ts";
import { stopTranscoderDouble } from "./transcoder-double.ts";

export default function setup() {
  return () => Promise.all([stopTestDatabases(), stopTranscoderDouble(), stopHungDatabase()]);
}
