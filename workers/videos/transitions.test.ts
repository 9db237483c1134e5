import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { videoStates, videos } from "../../schema/index.ts";
import { insertReadyVideos, uniqueGenre, withDatabase } from "../test/catalog.ts";
import { statesLeadingTo, transitionVideo, videoTransitions } from "./transitions.ts";

describe("video state transitions", () => {
  it("has one row for every state, reaches every state, and ends at ready", () => {
    expect(Object.keys(videoTransitions).sort()).toEqual([...videoStates].sort());
    const reachable = new Set(Object.values(videoTransitions).flat());
    expect(videoStates.filter((state) => !reachable.has(state))).toEqual([]);
    expect(statesLeadingTo("ready")).toEqual(["transcoding"]);
    expect(videoTransitions.ready).toEqual([]);
  });

  it("moves a video only from a state the table allows, and only if it is in one of them", async () => {
    const [video] = await insertReadyVideos(1, { genres: [uniqueGenre("transition")] });
    const id = video?.id as string;
    await withDatabase(async (db) => {
      // ready is final: asking for a move the table forbids is a programming error.
      await expect(transitionVideo(db, id, { from: ["ready"], to: "transcoding" })).rejects.toThrow(
        "a video may not move from ready to transcoding (see videoTransitions)",
      );
      // An allowed move from a state the video is not in changes nothing.
      expect(await transitionVideo(db, id, { from: ["uploading"], to: "queued" })).toBeUndefined();
      await db.update(videos).set({ state: "transcoding" }).where(eq(videos.id, id));
      const failed = await transitionVideo(db, id, { to: "failed", set: { error: "no video stream" } });
      expect(failed).toMatchObject({ state: "failed", error: "no video stream" });
      // Two writers racing for one move: the second finds the video moved already.
      expect(await transitionVideo(db, id, { from: ["transcoding"], to: "failed" })).toBeUndefined();
    });
  });
});
