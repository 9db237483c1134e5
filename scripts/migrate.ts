/** `npm run db:migrate`: applies the committed migrations to DATABASE_URL (or the local database). */
import { connectDatabase, migrateDatabase } from "./lib/local-stack/index.ts";

const database = await connectDatabase();
try {
  await migrateDatabase(database);
  console.log(`migrations applied to ${database.source}`);
} finally {
  await database.stop();
}
