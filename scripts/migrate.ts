/** `npm run db:migrate`: applies the committed migrations to DATABASE_URL (or the local database). */
import { applyMigrations, createNodePool } from "./lib/database.ts";
import { connectDatabase } from "./lib/local-stack.ts";

const database = await connectDatabase();
const pool = createNodePool(database.url, database.wsProxy);
try {
  await applyMigrations(pool);
  console.log(`migrations applied to ${database.source}`);
} finally {
  await pool.end();
  await database.stop();
}
