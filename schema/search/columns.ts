import { customType } from "drizzle-orm/pg-core";

/** Postgres `tsvector`: the weighted full-text document of a video. */
export const tsvector = customType<{ data: string }>({
  dataType: () => "tsvector",
});
