import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNodePool } from "./database.ts";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "./embedded-postgres.ts";
import { startWsProxy, type WsProxy } from "./ws-proxy.ts";

/** The embedded Postgres under concurrent clients, as `npm start` and the tests use it. */
describe("embedded Postgres (PGlite over the wire protocol)", () => {
  let pg: EmbeddedPostgres;
  let proxy: WsProxy;

  beforeAll(async () => {
    pg = await startEmbeddedPostgres({});
    proxy = await startWsProxy();
  });

  afterAll(async () => {
    await proxy.stop();
    await pg.stop();
  });

  it("answers each of many concurrent parameterised queries with its own result", async () => {
    const pool = createNodePool(pg.url, proxy.address, { max: 40 });
    try {
      await pool.query("create table if not exists echo (n int primary key, label text not null)");
      const results = await Promise.all(
        Array.from({ length: 40 }, async (_, n) => {
          const client = await pool.connect();
          try {
            const inserted = await client.query<{ n: number; label: string }>(
              "insert into echo (n, label) values ($1, $2) returning n, label",
              [n, `row ${n}`],
            );
            const selected = await client.query<{ label: string }>("select label from echo where n = $1", [n]);
            return { inserted: inserted.rows[0], selected: selected.rows[0]?.label };
          } finally {
            client.release();
          }
        }),
      );
      results.forEach((result, n) => {
        expect(result.inserted).toEqual({ n, label: `row ${n}` });
        expect(result.selected).toBe(`row ${n}`);
      });
    } finally {
      await pool.end();
    }
  });

  it("keeps every statement whole while transactions and plain queries run side by side", async () => {
    const pool = createNodePool(pg.url, proxy.address, { max: 40 });
    try {
      await pool.query("create table if not exists mixed (n int primary key, label text not null)");
      const work = Array.from({ length: 60 }, async (_, n) => {
        const client = await pool.connect();
        try {
          if (n % 2 === 0) {
            await client.query("begin");
            const { rows } = await client.query<{ n: number }>("insert into mixed (n, label) values ($1, $2) returning n", [n, `tx ${n}`]);
            await client.query("select pg_sleep(0.002)");
            await client.query("commit");
            return rows[0]?.n;
          }
          const { rows } = await client.query<{ n: number }>("insert into mixed (n, label) values ($1, $2) returning n", [n, `plain ${n}`]);
          return rows[0]?.n;
        } finally {
          client.release();
        }
      });
      expect(await Promise.all(work)).toEqual(Array.from({ length: 60 }, (_, n) => n));
      expect((await pool.query<{ count: string }>("select count(*) from mixed")).rows[0]?.count).toBe("60");
    } finally {
      await pool.end();
    }
  });

  it("keeps a transaction's statements apart from other connections' statements", async () => {
    const pool = createNodePool(pg.url, proxy.address, { max: 40 });
    try {
      await pool.query("create table if not exists counter (id int primary key, value int not null)");
      await pool.query("insert into counter values (1, 0) on conflict (id) do update set value = 0");
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const client = await pool.connect();
          try {
            await client.query("begin");
            const { rows } = await client.query<{ value: number }>("select value from counter where id = $1 for update", [1]);
            await client.query("update counter set value = $1 where id = $2", [(rows[0]?.value ?? 0) + 1, 1]);
            await client.query("commit");
          } finally {
            client.release();
          }
        }),
      );
      expect((await pool.query<{ value: number }>("select value from counter where id = 1")).rows[0]?.value).toBe(20);
    } finally {
      await pool.end();
    }
  });
});
