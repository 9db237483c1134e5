import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { seasons, series, videos } from "../../schema/index.ts";
import { insertReadyVideos, problemOf, signUpAdmin, uniqueGenre, withDatabase } from "../test/catalog.ts";
import { call, signUp } from "../test/helpers.ts";
import { newVideoId } from "../videos/index.ts";
import { ALL_TERMS_BONUS } from "./service.ts";

/** A made-up word no other test uses: letters only, so it is one search term. */
function nonsenseWord(length = 10): string {
  const letters = "bcdfghjklmnpqrstvwxz";
  return Array.from(crypto.getRandomValues(new Uint8Array(length)), (byte) => letters[byte % letters.length]).join("");
}

type Page = { items: { id: string; title: string; score: number }[]; nextCursor: string | null };

async function search(token: string, params: Record<string, string>): Promise<Page> {
  const response = await call(`/v1/search?${new URLSearchParams(params)}`, { token });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

describe("GET /v1/search", () => {
  it("finds a series by its title or summary (the last word as a prefix), above the titles, and its episodes with their place", async () => {
    const { accessToken } = await signUp();
    const word = nonsenseWord();
    const summaryWord = nonsenseWord();
    const seriesId = newVideoId();
    const [episode] = await insertReadyVideos(1, { genres: [uniqueGenre("series")], title: () => `${word} in the fog` });
    const emptyId = newVideoId();
    await withDatabase(async (db) => {
      await db.insert(series).values([
        { id: seriesId, title: `The ${word} chronicles`, summary: `Night watches and ${summaryWord} storms.` },
        // A series with no listed episode is not found.
        { id: emptyId, title: `${word} unreleased`, summary: "Soon." },
      ]);
      await db.insert(seasons).values({ seriesId, number: 2 });
      await db
        .update(videos)
        .set({ seriesId, seasonNumber: 2, episodeNumber: 3 })
        .where(eq(videos.id, episode?.id ?? ""));
    });
    const page = (await search(accessToken, { q: `${word} chron` })) as Page & {
      series: { id: string; title: string; posterUrl: string | null }[];
      items: { id: string; episode: unknown }[];
    };
    expect(page.series.map((hit) => hit.id)).toEqual([seriesId]);
    expect(page.series[0]?.posterUrl).toMatch(new RegExp(`/media/${episode?.id}/`));
    expect(((await search(accessToken, { q: summaryWord })) as unknown as { series: { id: string }[] }).series).toEqual([
      expect.objectContaining({ id: seriesId, title: `The ${word} chronicles` }),
    ]);
    const byEpisode = (await search(accessToken, { q: `${word} fog` })) as unknown as { items: { id: string; episode: unknown }[] };
    expect(byEpisode.items.find((item) => item.id === episode?.id)?.episode).toEqual({
      seriesId,
      seriesTitle: `The ${word} chronicles`,
      season: 2,
      number: 3,
    });
  });

  it("ranks a title match above a cast match above a summary match", async () => {
    const { accessToken } = await signUp();
    const word = nonsenseWord();
    const genre = uniqueGenre();
    const [inSummary] = await insertReadyVideos(1, {
      genres: [genre],
      title: () => "Plain title",
      summary: `A story about ${word} and more.`,
    });
    const [inCast] = await insertReadyVideos(1, { genres: [genre], title: () => "Another title", cast: [`Ada ${word}`] });
    const [inTitle] = await insertReadyVideos(1, { genres: [genre], title: () => `The ${word} affair` });
    const page = await search(accessToken, { q: word });
    expect(page.items.map((item) => item.id)).toEqual([inTitle?.id, inCast?.id, inSummary?.id]);
    const scores = page.items.map((item) => item.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(page.items[0]).toMatchObject({ title: `The ${word} affair`, genres: [genre] });
  });

  it("ranks a title with the word as typed above a title with a word it completes to", async () => {
    const { accessToken } = await signUp();
    const word = nonsenseWord();
    const genre = uniqueGenre();
    const [completed] = await insertReadyVideos(1, { genres: [genre], title: () => `${word}q` });
    const [exact] = await insertReadyVideos(1, { genres: [genre], title: () => word });
    expect((await search(accessToken, { q: word })).items.map((item) => item.id)).toEqual([exact?.id, completed?.id]);
  });

  it("finds cast members and genres", async () => {
    const { accessToken } = await signUp();
    const surname = nonsenseWord();
    const genre = uniqueGenre("noir");
    const [video] = await insertReadyVideos(1, { genres: [genre], cast: [`Mira ${surname}`] });
    expect((await search(accessToken, { q: `mira ${surname}` })).items.map((item) => item.id)).toContain(video?.id);
    expect((await search(accessToken, { q: genre })).items.map((item) => item.id)).toEqual([video?.id]);
  });

  it("finds titles and genres whose words are joined by punctuation (Catch-22, 9-1-1, codes with digits)", async () => {
    const { accessToken } = await signUp();
    // Each title its own word: a title that shares one word with the query but misses another is
    // listed too, after the full matches, and these assertions are about the full matches.
    const [word, other] = [nonsenseWord(), nonsenseWord()];
    // The text-search parser reads "-22" as a signed number and "0e84386b" as a float followed by
    // a letter; the query is split on punctuation, so the document must be too.
    const genre = `${nonsenseWord()}-0e84386b-02047573`;
    const [catch22] = await insertReadyVideos(1, { genres: [genre], title: () => `${word}-22` });
    const [nineOneOne] = await insertReadyVideos(1, { genres: [uniqueGenre()], title: () => `${other} 9-1-1: Lone Star` });
    const ids = async (q: string) => (await search(accessToken, { q })).items.map((item) => item.id);
    expect(await ids(`${word} 22`)).toEqual([catch22?.id]);
    expect(await ids(`${word}-22`)).toEqual([catch22?.id]);
    expect(await ids(`${other} 9 1 1`)).toEqual([nineOneOne?.id]);
    expect(await ids(`${other} 9-1-1`)).toEqual([nineOneOne?.id]);
    expect(await ids(genre)).toEqual([catch22?.id]);
    expect(await ids("0e84386b 02047573")).toContain(catch22?.id);
  });

  it("tolerates typos of one and two letters, and matches prefixes as the user types", async () => {
    const { accessToken } = await signUp();
    const word = nonsenseWord(12);
    const [video] = await insertReadyVideos(1, { genres: [uniqueGenre()], title: () => `${word} returns` });
    const oneLetter = `${word.slice(0, 5)}${word.slice(6)}`; // a letter dropped
    const twoLetters = `${word.slice(0, 3)}a${word.slice(4, 8)}e${word.slice(9)}`; // two letters replaced
    for (const q of [oneLetter, twoLetters, word.slice(0, 4), word.slice(0, 7), `${word.toUpperCase()} RET`]) {
      expect(
        (await search(accessToken, { q })).items.map((item) => item.id),
        q,
      ).toContain(video?.id);
    }
  });

  it("stems English words in titles and summaries", async () => {
    const { accessToken } = await signUp();
    const word = nonsenseWord();
    const [video] = await insertReadyVideos(1, { genres: [uniqueGenre()], title: () => `Running with ${word}` });
    expect((await search(accessToken, { q: `run ${word}` })).items.map((item) => item.id)).toContain(video?.id);
  });

  it("lists only ready videos and honours the genre filter", async () => {
    const { accessToken } = await signUp();
    const word = nonsenseWord();
    const [drama, comedy] = [uniqueGenre("drama"), uniqueGenre("comedy")];
    const [a] = await insertReadyVideos(1, { genres: [drama], title: () => `${word} one` });
    const [b] = await insertReadyVideos(1, { genres: [comedy], title: () => `${word} two` });
    await withDatabase((db) =>
      db.insert(videos).values({
        id: newVideoId(),
        title: `${word} unreleased`,
        summary: "Not yet.",
        releaseYear: 2024,
        genres: [drama],
        state: "transcoding",
      }),
    );
    const all = await search(accessToken, { q: word });
    expect(all.items.map((item) => item.id).sort()).toEqual([a?.id, b?.id].sort());
    expect((await search(accessToken, { q: word, genre: drama.toUpperCase() })).items.map((item) => item.id)).toEqual([a?.id]);
  });

  it("pages through ranked results without repeating or skipping", async () => {
    const { accessToken } = await signUp();
    const word = nonsenseWord();
    const inserted = await insertReadyVideos(27, {
      genres: [uniqueGenre()],
      title: (i) => `${word} episode ${i}`,
      summary: "A generated episode.",
    });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Page = await search(accessToken, { q: word, limit: "10", ...(cursor ? { cursor } : {}) });
      seen.push(...page.items.map((item) => item.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(27);
    expect(seen.sort()).toEqual(inserted.map((video) => video.id).sort());
  });

  it("refuses a tampered cursor, or one from another search, with 400", async () => {
    const { accessToken } = await signUp();
    const word = nonsenseWord();
    await insertReadyVideos(3, { genres: [uniqueGenre()], title: (i) => `${word} ${i}` });
    const first = await search(accessToken, { q: word, limit: "1" });
    expect(first.nextCursor).toBeTruthy();
    const cursor = first.nextCursor ?? "";
    const tampered = `${cursor.slice(0, 5)}${cursor[5] === "A" ? "B" : "A"}${cursor.slice(6)}`;
    for (const [q, bad] of [
      [word, tampered],
      [word, "not-a-cursor"],
      [`${word} other`, cursor],
    ] as const) {
      const response = await call(`/v1/search?${new URLSearchParams({ q, cursor: bad })}`, { token: accessToken });
      expect(response.status).toBe(400);
      expect((await problemOf(response)).errors?.[0]?.path).toBe("cursor");
    }
  });

  it("answers 400 for an empty, blank or over-long query, and for a limit outside 1-50", async () => {
    const { accessToken } = await signUp();
    for (const query of ["q=", "q=%20%20%09", `q=${"a".repeat(201)}`, "", "q=xyz&limit=0", "q=xyz&limit=51", "q=xyz&limit=ten"]) {
      const response = await call(`/v1/search?${query}`, { token: accessToken });
      expect(response.status, query).toBe(400);
      expect((await problemOf(response)).errors?.length).toBeGreaterThan(0);
    }
  });

  it("finds a title by its other words when one word is misspelt beyond the typo budget, after the titles that match every word", async () => {
    const { accessToken } = await signUp();
    const [word, second, third] = [nonsenseWord(), nonsenseWord(), nonsenseWord()];
    const genre = uniqueGenre();
    // "Breaking Bad", searched as "braking bda": one word within the typo budget, one far beyond it.
    const [breakingBad] = await insertReadyVideos(1, { genres: [genre], title: () => `${word} ${second}` });
    const typo = `${word.slice(0, 4)}${word.slice(5)}`; // a letter dropped
    const badWord = [...second].reverse().join("");
    const found = await search(accessToken, { q: `${typo} ${badWord}` });
    expect(found.items.map((item) => item.id)).toEqual([breakingBad?.id]);

    // Titles that match every word of the query come first, whatever their other words.
    const [everyWord] = await insertReadyVideos(1, { genres: [genre], title: () => `${word} ${third} and ${badWord}` });
    const [everyWordInCast] = await insertReadyVideos(1, { genres: [genre], title: () => "Plain title", cast: [`${word} ${badWord}`] });
    const ranked = await search(accessToken, { q: `${typo} ${badWord}`, genre });
    expect(ranked.items.map((item) => item.id)).toEqual([everyWord?.id, everyWordInCast?.id, breakingBad?.id]);
    const scores = ranked.items.map((item) => item.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));

    // One result a page: the cursor carries the order across from full matches to partial ones.
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Page = await search(accessToken, { q: `${typo} ${badWord}`, genre, limit: "1", ...(cursor ? { cursor } : {}) });
      paged.push(...page.items.map((item) => item.id));
      cursor = page.nextCursor;
    } while (cursor && paged.length < 10);
    expect(paged).toEqual(ranked.items.map((item) => item.id));
  });

  it("answers an empty page when the query's words match nothing, never the whole catalog", async () => {
    const { accessToken } = await signUp();
    await insertReadyVideos(2, { genres: [uniqueGenre()], title: (i) => `${nonsenseWord()} ${i}` });
    expect((await search(accessToken, { q: nonsenseWord() })).items).toEqual([]);
    expect((await search(accessToken, { q: `${nonsenseWord()} ${nonsenseWord()}` })).items).toEqual([]);
  });

  it("refuses a query without a word of 3 letters or digits with 400, and matches short words only as whole words", async () => {
    const { accessToken } = await signUp();
    for (const q of ["b", "br", "x y", "up", "9", "é!"]) {
      const response = await call(`/v1/search?${new URLSearchParams({ q })}`, { token: accessToken });
      expect(response.status, q).toBe(400);
      const problem = await problemOf(response);
      expect(problem.errors, q).toEqual([{ path: "q", message: expect.stringMatching(/at least 3 letters or digits/) }]);
    }

    const [word, air] = [nonsenseWord(), nonsenseWord()];
    const genre = uniqueGenre();
    const [xMen] = await insertReadyVideos(1, { genres: [genre], title: () => `X-${word}` });
    const [xavier] = await insertReadyVideos(1, { genres: [genre], title: () => `Xavier ${word}` });
    const [upInTheAir] = await insertReadyVideos(1, { genres: [genre], title: () => `Up in the ${air}` });
    // "x" is the whole word x, not every word that starts with x: X-word matches both words, and
    // Xavier only the longer one, so it comes after.
    const xMenPage = await search(accessToken, { q: `x ${word}` });
    expect(xMenPage.items.map((item) => item.id)).toEqual([xMen?.id, xavier?.id]);
    expect(xMenPage.items[0]?.score).toBeGreaterThanOrEqual(ALL_TERMS_BONUS);
    expect(xMenPage.items[1]?.score).toBeLessThan(ALL_TERMS_BONUS);
    expect((await search(accessToken, { q: `up in the ${air}` })).items[0]?.id).toBe(upInTheAir?.id);
    // A short word never answers a search alone: with the longer word matching nothing, nothing.
    expect((await search(accessToken, { q: `xa ${nonsenseWord()}` })).items).toEqual([]);
  });

  it("treats operators, quotes, backslashes and SQL as harmless text", async () => {
    const { accessToken } = await signUp();
    const word = nonsenseWord();
    const [video] = await insertReadyVideos(1, { genres: [uniqueGenre()], title: () => `${word} it's "quoted"` });
    const hostile = [
      "' OR 1=1 --",
      "'; DROP TABLE videos; --",
      "a & b | !c <-> d:*",
      "\\",
      "\\\\'\"",
      "(((",
      "!!!",
      ":*",
      "%_%",
      "$1",
      "\u0000",
      "🎬🍿",
      "title:* & (x | y)",
      `${word}' AND 1=1`,
      `${word}:*|!`,
      "null NULL",
      "{a,b}",
    ];
    for (const q of hostile) {
      const response = await call(`/v1/search?${new URLSearchParams({ q })}`, { token: accessToken });
      expect([200, 400], q).toContain(response.status);
      if (response.status === 200) expect(Array.isArray(((await response.json()) as Page).items)).toBe(true);
    }
    // Punctuation separates words and is otherwise ignored: the word still finds its video.
    expect((await search(accessToken, { q: `'${word}'; --` })).items.map((item) => item.id)).toContain(video?.id);
    const [nullTitled] = await insertReadyVideos(1, { genres: [uniqueGenre()], title: () => `Null ${word}` });
    expect((await search(accessToken, { q: `null ${word}` })).items.map((item) => item.id)).toContain(nullTitled?.id);
    const stillThere = await withDatabase((db) => db.select({ id: videos.id }).from(videos).limit(1));
    expect(stillThere.length).toBe(1);
  });

  it("sees an admin's edit and deletion on the very next search", async () => {
    const admin = await signUpAdmin();
    const viewer = await signUp();
    const [before, after] = [nonsenseWord(), nonsenseWord()];
    const [video] = await insertReadyVideos(1, { genres: [uniqueGenre()], title: () => `${before} chronicles` });
    expect((await search(viewer.accessToken, { q: before })).items.map((item) => item.id)).toEqual([video?.id]);

    const edit = await call(`/v1/admin/videos/${video?.id}`, {
      method: "PATCH",
      token: admin.accessToken,
      json: { title: `${after} chronicles` },
    });
    expect(edit.status).toBe(200);
    expect((await search(viewer.accessToken, { q: after })).items.map((item) => item.id)).toEqual([video?.id]);
    expect((await search(viewer.accessToken, { q: before })).items).toEqual([]);

    const removal = await call(`/v1/admin/videos/${video?.id}`, { method: "DELETE", token: admin.accessToken });
    expect(removal.status).toBe(204);
    expect((await search(viewer.accessToken, { q: after })).items).toEqual([]);
  });

  it("needs a signed-in viewer", async () => {
    const response = await call("/v1/search?q=anything");
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
  });
});
