import { DurableObject } from "cloudflare:workers";
import type { MaturityRank } from "../schema/maturity/ratings.ts";
import { type Clock, systemClock } from "../workers/platform/clock.ts";
import {
  type Entitlement,
  entitlementAt,
  playsLess,
  type SubscriptionCopy,
  type VersionedSubscription,
} from "../workers/platform/entitlement.ts";
import { createLogger } from "../workers/platform/logger.ts";
import { AccountCopies, type AccountCopy, type EntitlementAnswer, type VersionedAccount } from "./viewer-state/account.ts";
import { type AddToMyListResult, type MyListEntry, type Rating, ViewerChoices } from "./viewer-state/choices.ts";
import { Leases, type StreamLease, type StreamStatus } from "./viewer-state/leases.ts";
import { type Profile, type ProfileChange, type ProfileFields, type ProfileRefusal, Profiles } from "./viewer-state/profiles.ts";
import { type NewSession, type RefreshResult, Sessions } from "./viewer-state/sessions.ts";
import { USER_COPIES_KIND, type UserCopiesAck, type UserCopiesMessage } from "./viewer-state/user-copies.ts";
import {
  acknowledgeProgress,
  hasUnacknowledgedProgress,
  nextSendAt,
  RESEND_AFTER_MS,
  unacknowledgedProgress,
} from "./viewer-state/write-behind.ts";

export type {
  AccountCopy,
  AddToMyListResult,
  EntitlementAnswer,
  MyListEntry,
  NewSession,
  Profile,
  ProfileChange,
  ProfileFields,
  ProfileRefusal,
  Rating,
  RefreshResult,
  StreamLease,
  StreamStatus,
  VersionedAccount,
};

/** The profile an access token claims: `pid` and `mc`. */
export interface TokenProfile {
  id: string;
  maturityCeiling: MaturityRank;
}

/** A profile change refused because the session acts for a kids profile (kids do not manage profiles). */
export type ManageRefusal = ProfileRefusal | { refused: "kids-profile" } | { refused: "revoked" };

/** After the queue refused a message: wait this long, doubling up to the maximum. Rows stay dirty meanwhile. */
const SEND_RETRY_MIN_MS = 5_000;
const SEND_RETRY_MAX_MS = 300_000;

const LOG_SCOPE = { durableObject: "ViewerState" };

export interface StoredProgress {
  positionSeconds: number;
  durationSeconds: number | null;
  finished: boolean;
  /** Milliseconds since the epoch. */
  updatedAt: number;
}

/** What play may do (`startStream`): nothing is taken unless `granted`. */
export type StartStreamResult =
  | {
      granted: true;
      progress: StoredProgress | null;
      /** This play's stream: new on every play, carried by its media token (see `streamStatus`). */
      leaseId: string;
      /** The plan the lease was taken under (its height caps the media token). */
      entitlement: Entitlement;
      /** Bits per second this session's player measured when its previous stream was released, or null. */
      bandwidthEstimate: number | null;
      /** Streams of other sessions ended to make room (`takeOver`): 0 or 1 in practice. */
      tookOver: number;
    }
  /** The session was signed out. */
  | { granted: false; refused: "revoked" }
  /** The title is above the maturity ceiling of the session's profile (the Worker answers 404). */
  | { granted: false; refused: "maturity" }
  /** The object holds no copy of the subscription yet: call again with `fill` (from Postgres). */
  | { granted: false; refused: "not-copied" }
  /** No subscription, or a canceled one past its period (402). */
  | { granted: false; refused: "no-plan" }
  /** Every screen of the plan is taken by other sessions (429). */
  | { granted: false; refused: "screens"; screens: number; inUse: number; retryAfterMs: number };

/** What one heartbeat did: nothing, for a signed-out session. */
export type HeartbeatResult =
  | { revoked: true }
  | {
      revoked: false;
      progress: StoredProgress;
      /** The continue-watching row as it stands after this heartbeat: unfinished titles, most recent first. */
      continueWatching: string[];
      /** The session's stream was ended by another device's "watch here instead" (the position is stored all the same). */
      takenOver: boolean;
    };

/** The write-behind's counters (`flushStats`); the first three are kept in storage. */
export interface FlushStats {
  /** Messages handed to the queue. */
  messagesSent: number;
  /** Rows Postgres acknowledged, each counted once per version. */
  rowsAcknowledged: number;
  /** Sends the queue refused (retried with backoff). */
  sendFailures: number;
  /** Rows not yet acknowledged: changed since the last message, or in it. */
  dirtyRows: number;
  /** When the message in flight was sent; null when none is. */
  inFlightSince: number | null;
  /** Heartbeats since this instance started, and the SQLite rows they wrote (`rowsWritten`): not persisted. */
  heartbeats: number;
  heartbeatRowsWritten: number;
}

/**
 * One object per user (`idFromName(userId)`): the strongly consistent, global view of that
 * user's live state, and everything a signed-in viewer's path needs without Postgres. An object
 * stays where it was first created (Durable Objects do not move): near where the user first
 * signed up or in.
 * - Sessions and their refresh-token families (viewer-state/sessions.ts): sign-in and sign-up
 *   open them here, refresh rotates here, sign-out revokes here. Revoked sessions are kept until
 *   every credential derived from the session (access tokens, signed media URLs) has expired:
 *   playback, account and admin routes and the media space ask here, so sign-out stops them on
 *   the next request from any location.
 * - Copies of the account and of the subscription with its plan's limits (viewer-state/account.ts),
 *   kept in step by the services that change them: `GET /v1/me`, refresh and play read them.
 * - Watch progress ("watched till" per video): acknowledged once in SQLite storage, written behind
 *   to Postgres: the alarm sends the changed rows as one message on the user-copies queue, whose
 *   consumer writes a batch of users in one transaction and acknowledges each row's version back
 *   (`copiesWritten`). A row is kept dirty until then, so nothing is lost while Postgres is down.
 * - Screen leases: one per signed-in session, renewed by heartbeats, capped by the plan's screens,
 *   released by the player's stream token or taken over by another session (viewer-state/leases.ts).
 */
export class ViewerState extends DurableObject<Env> {
  private readonly log = createLogger(LOG_SCOPE);
  private readonly sessions: Sessions;
  private readonly leases: Leases;
  private readonly copies: AccountCopies;
  private readonly profiles: Profiles;
  private readonly choices: ViewerChoices;
  /** `meta.user_id`, read once per instance. */
  private owner: string | null | undefined;
  private heartbeats = 0;
  private heartbeatRowsWritten = 0;
  /** SQLite rows written through `write` since this instance started. */
  private written = 0;

  /** `clock`: the entry point's (the test Worker's objects run on its test clock). */
  constructor(
    ctx: DurableObjectState,
    env: Env,
    private readonly clock: Clock = systemClock,
  ) {
    super(ctx, env);
    this.sessions = new Sessions(ctx.storage.sql);
    this.leases = new Leases(ctx.storage.sql, clock);
    this.copies = new AccountCopies(ctx.storage.sql);
    this.profiles = new Profiles(ctx.storage.sql);
    this.choices = new ViewerChoices(ctx.storage.sql);
    ctx.blockConcurrencyWhile(async () => {
      const storage = this.ctx.storage.sql;
      this.sessions.createTables();
      this.leases.createTables();
      this.copies.createTables();
      this.profiles.createTables();
      this.choices.createTables();
      storage.exec(`CREATE TABLE IF NOT EXISTS progress (
        video_id TEXT PRIMARY KEY, position REAL NOT NULL, duration REAL, finished INTEGER NOT NULL,
        updated_at INTEGER NOT NULL, dirty INTEGER NOT NULL, country TEXT)`);
      // Objects created before heartbeats carried the viewer's country (issue 25) gain the column once.
      const columns = storage.exec<{ name: string }>("SELECT name FROM pragma_table_info('progress')").toArray();
      if (!columns.some((column) => column.name === "country")) storage.exec("ALTER TABLE progress ADD COLUMN country TEXT");
      // Who this object belongs to (the flush needs the user id) and the flush's bookkeeping.
      storage.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    });
  }

  /**
   * Opens a session (sign-in, sign-up: Postgres has the account and checked the password): its
   * refresh-token family, and the account's copy as Postgres has it now. At sign-up the
   * subscription's copy too ("none"), so the new user's first play needs no query.
   */
  async openSession(input: {
    session: NewSession;
    account: VersionedAccount;
    subscription?: VersionedSubscription;
  }): Promise<TokenProfile> {
    this.rememberOwner(input.account.account.id);
    this.copies.putAccount(input.account);
    if (input.subscription) this.copies.putSubscription(input.subscription, { onlyIfMissing: true });
    this.sessions.open(input.session, this.clock.now());
    await this.scheduleAlarm(input.session.expiresAt);
    // A new session acts for the default profile (the account holder's) until another is selected.
    const profile = this.defaultProfile(input.account.account.id);
    return { id: profile.id, maturityCeiling: profile.maturityCeiling };
  }

  /**
   * Exchanges the family's live refresh token for the next (hashes only; the Worker makes the
   * tokens), and answers the account the new access token claims. A reused token revokes its
   * session here, in the same call; `forgetAfterMs` is as for `revokeSession`.
   */
  async refreshSession(input: {
    familyHash: string;
    tokenHash: string;
    nextTokenHash: string;
    forgetAfterMs: number;
  }): Promise<RefreshResult> {
    const account = this.copies.account();
    if (!account) return { outcome: "unknown" };
    const rotation = this.sessions.rotate(input, this.clock.now());
    switch (rotation.outcome) {
      case "rotated":
        // A spent token presented again within the grace: a lost answer or a retry, not proof of theft (docs/users.md).
        if (rotation.grace) this.log.info("refresh token presented again within the grace", { sessionId: rotation.sessionId });
        return {
          outcome: "rotated",
          sessionId: rotation.sessionId,
          expiresAt: rotation.expiresAt,
          account,
          profile: this.tokenProfile(account.id, rotation.profileId),
        };
      case "reused":
        await this.revokeSession(rotation.sessionId, input.forgetAfterMs);
        return { ...rotation, userId: account.id };
      default:
        return rotation;
    }
  }

  /**
   * Marks a session revoked and releases its screen. `forgetAfterMs` is when the last credential
   * derived from the session expires (access tokens and signed media URLs, whose only check after
   * sign-out is this row); after that the signature checks alone refuse them, so the alarm purges it.
   */
  async revokeSession(sessionId: string, forgetAfterMs: number): Promise<void> {
    this.sessions.revoke(sessionId, forgetAfterMs);
    this.leases.forget(sessionId);
    await this.scheduleAlarm(forgetAfterMs);
  }

  /** The account's profiles, the default one first (made now if the object has none yet). */
  async listProfiles(userId: string): Promise<Profile[]> {
    this.defaultProfile(userId);
    return this.profiles.list(userId);
  }

  /**
   * Adds a profile (at most `MAX_PROFILES`). `actingProfileId`: the profile of the session asking; a
   * kids profile manages no profiles (it could lift its own ceiling).
   */
  async createProfile(input: {
    userId: string;
    sessionId: string;
    actingProfileId: string;
    fields: ProfileFields;
  }): Promise<Profile | ManageRefusal> {
    const refusal = this.manageRefusal(input);
    if (refusal) return refusal;
    return this.profiles.create(input.fields, input.userId, this.clock.now());
  }

  /** Changes a profile (name, kids, ceiling, PIN, languages), as `createProfile` allows. */
  async updateProfile(input: {
    userId: string;
    sessionId: string;
    actingProfileId: string;
    profileId: string;
    change: ProfileChange;
  }): Promise<Profile | ManageRefusal> {
    const refusal = this.manageRefusal(input);
    if (refusal) return refusal;
    return this.profiles.update(input.profileId, input.change, input.userId);
  }

  /**
   * Deletes a profile (not the default one, not the one the asking session uses). The sessions
   * bound to it end (their devices sign in again and choose a profile): answers them, for the
   * Worker's deny-list. `forgetAfterMs` is as for `revokeSession`.
   */
  async deleteProfile(input: {
    userId: string;
    sessionId: string;
    actingProfileId: string;
    profileId: string;
    forgetAfterMs: number;
  }): Promise<{ deleted: true; sessionIds: string[] } | ManageRefusal> {
    const refusal = this.manageRefusal(input);
    if (refusal) return refusal;
    if (input.profileId === input.actingProfileId) return { refused: "in-use" };
    const deleted = this.profiles.delete(input.profileId, input.userId);
    if (deleted) return deleted;
    const sessionIds = this.sessions.boundTo(input.profileId);
    for (const sessionId of sessionIds) {
      this.sessions.revoke(sessionId, input.forgetAfterMs);
      this.leases.forget(sessionId);
    }
    if (sessionIds.length > 0) await this.scheduleAlarm(input.forgetAfterMs);
    return { deleted: true, sessionIds };
  }

  /**
   * Binds the session to a profile after checking its PIN (wrong PINs are throttled per profile):
   * the session's next access tokens, this one's and every refresh's, claim it.
   */
  async selectProfile(input: { userId: string; sessionId: string; profileId: string; pin?: string }): Promise<Profile | ManageRefusal> {
    if (this.sessions.isRevoked(input.sessionId)) return { refused: "revoked" };
    this.defaultProfile(input.userId);
    const checked = await this.profiles.checkPin(input.profileId, input.pin, input.userId, this.clock.now());
    if ("refused" in checked) return checked;
    if (!this.sessions.bindProfile(input.sessionId, checked.id)) return { refused: "revoked" };
    return checked;
  }

  /** Why the session may not manage profiles, or null. */
  private manageRefusal(input: { userId: string; sessionId: string; actingProfileId: string }): ManageRefusal | null {
    if (this.sessions.isRevoked(input.sessionId)) return { refused: "revoked" };
    this.defaultProfile(input.userId);
    return this.profiles.get(input.actingProfileId, input.userId)?.kids ? { refused: "kids-profile" } : null;
  }

  /** The default profile (id = the user id), made from the account's copy when missing. */
  private defaultProfile(userId: string): Profile {
    const existing = this.profiles.get(userId, userId);
    if (existing) return existing;
    this.profiles.ensureDefault(userId, this.copies.account()?.name ?? "Main profile", this.clock.now());
    return this.profiles.get(userId, userId) as Profile;
  }

  /** What a token of a session bound to `profileId` claims; a profile that is gone claims the default one. */
  private tokenProfile(userId: string, profileId: string | null): TokenProfile {
    const profile = (profileId !== null ? this.profiles.get(profileId, userId) : null) ?? this.defaultProfile(userId);
    return { id: profile.id, maturityCeiling: profile.maturityCeiling };
  }

  /** Answers, and touches nothing: `/health`'s check that Durable Objects can be reached. */
  async ping(): Promise<"pong"> {
    return "pong";
  }

  /** Signs out everywhere: revokes every open session and ends every stream at once; answers the sessions revoked. */
  async revokeAllSessions(forgetAfterMs: number): Promise<string[]> {
    const revoked = this.sessions.openIds(this.clock.now());
    for (const sessionId of revoked) {
      this.sessions.revoke(sessionId, forgetAfterMs);
      this.leases.forget(sessionId);
    }
    this.leases.releaseAll();
    await this.scheduleAlarm(forgetAfterMs);
    return revoked;
  }

  async isSessionRevoked(sessionId: string): Promise<boolean> {
    return this.sessions.isRevoked(sessionId);
  }

  /** Keeps a newer copy of the account (sign-in, a role or profile change, the cron's sync); answers whether it was kept. */
  async putAccount(copy: VersionedAccount): Promise<boolean> {
    this.rememberOwner(copy.account.id);
    return this.copies.putAccount(copy);
  }

  /** The copies `GET /v1/me` shows: null account / undefined subscription when not copied yet. */
  async accountView(): Promise<{ account: AccountCopy | null; subscription: SubscriptionCopy | null | undefined }> {
    return { account: this.copies.account(), subscription: this.copies.subscription() };
  }

  /**
   * Keeps a newer copy of the subscription (the subscriptions service, after every change; the
   * cron's sync). When the plan now plays less than the one held (a lower height, fewer screens,
   * none), every stream ends in the same call, so URLs signed for the old plan stop. With
   * `onlyIfMissing` (a lazy fill from Postgres) a copy already held is left alone.
   */
  async putSubscription(
    copy: VersionedSubscription,
    options: { onlyIfMissing?: boolean } = {},
  ): Promise<{ kept: boolean; streamsEnded: number }> {
    const now = this.clock.now();
    const before = this.copies.entitlement(now);
    if (!this.copies.putSubscription(copy, options)) return { kept: false, streamsEnded: 0 };
    // Play takes a lease only under a copy (`startStream`): an object that held none has no stream
    // of a plan to lower.
    const lowered = playsLess(before ?? null, entitlementAt(copy.subscription, now));
    return { kept: true, streamsEnded: lowered ? this.leases.releaseAll() : 0 };
  }

  /** The user's entitlement for a session's checks that take nothing (`HEAD` play, a refusal's order). */
  async readEntitlement(sessionId: string): Promise<EntitlementAnswer> {
    if (this.sessions.isRevoked(sessionId)) return { revoked: true };
    const entitlement = this.copies.entitlement(this.clock.now());
    return entitlement === undefined ? { revoked: false, copied: false } : { revoked: false, copied: true, entitlement };
  }

  /**
   * Play, in one call: checks the session, the plan (the held subscription, its period compared
   * with this object's clock) and its screens, then takes the session's screen for `videoId`, or
   * moves it there: a session holds at most one lease, so switching titles on a device never uses
   * a second screen. With every screen in use, `takeOver` ("watch here instead") ends the streams
   * of other sessions that went longest without a heartbeat instead of refusing, and their players
   * are told why (`taken-over`). Answers the title's progress too (for `resumeAt`) and the session's
   * bandwidth hint. `fill`: the subscription as Postgres has it, for an object that answered `not-copied`.
   */
  async startStream(input: {
    userId: string;
    sessionId: string;
    videoId: string;
    /** The title's maturity rank: refused above the ceiling the session's profile has now (not the token's). */
    maturityRank: MaturityRank;
    leaseMs: number;
    takeOver?: boolean;
    fill?: VersionedSubscription;
  }): Promise<StartStreamResult> {
    if (this.sessions.isRevoked(input.sessionId)) return { granted: false, refused: "revoked" };
    this.rememberOwner(input.userId);
    if (input.maturityRank > this.tokenProfile(input.userId, this.sessions.profileOf(input.sessionId)).maturityCeiling) {
      return { granted: false, refused: "maturity" };
    }
    if (input.fill) this.copies.putSubscription(input.fill, { onlyIfMissing: true });
    const entitlement = this.copies.entitlement(this.clock.now());
    if (entitlement === undefined) return { granted: false, refused: "not-copied" };
    if (entitlement === null) return { granted: false, refused: "no-plan" };
    const lease = this.leases.take({ ...input, screens: entitlement.screens });
    if (!("leaseId" in lease)) return { granted: false, refused: "screens", screens: entitlement.screens, ...lease };
    return { granted: true, progress: this.readProgress(input.videoId), entitlement, ...lease };
  }

  /**
   * Whether the stream `leaseId` of a session may still be served (the media edge asks, for
   * playlists on every request and for segments at most every 20 s per isolate): one read of
   * this object's storage, nothing written.
   */
  async streamStatus(sessionId: string, leaseId: string): Promise<StreamStatus> {
    if (this.sessions.isRevoked(sessionId)) return { status: "revoked" };
    return this.leases.status(sessionId, leaseId);
  }

  /**
   * A progress heartbeat, in one call: checks the session, stores the position (durable once this
   * returns), renews the session's lease, and answers the continue-watching row. The position
   * reaches Postgres with the next flush. Rows written: the position, plus the lease when it has
   * run down by a quarter (so about every third heartbeat at one every 5 s), plus the flush
   * bookkeeping only when `flushDelayMs` changes.
   */
  async recordProgress(input: {
    userId: string;
    sessionId: string;
    videoId: string;
    positionSeconds: number;
    durationSeconds: number | null;
    /** Whether this position counts as watched to the end (the playback service's rule). */
    finished: boolean;
    leaseMs: number;
    /** How long heartbeats gather before one batch goes to Postgres (`PROGRESS_FLUSH_SECONDS`). */
    flushDelayMs: number;
    /** How many titles the continue-watching row holds (the playback service's rule). */
    continueWatchingSize: number;
    /**
     * An episode's next one (its document's `next`): when this position finishes the episode, the
     * next joins the continue-watching row, most recent, at its start (or where the viewer left it
     * unfinished), so the series stays in the row at the episode to watch.
     */
    upNext?: string | null;
    /** Where the heartbeat came from (`request.cf.country`), copied behind for "Top 10 in <country>"; null when unknown. */
    country?: string | null;
  }): Promise<HeartbeatResult> {
    if (this.sessions.isRevoked(input.sessionId)) return { revoked: true };
    const before = this.written;
    this.rememberOwner(input.userId);
    const now = this.clock.now();
    const { finished } = input;
    // `updated_at` is the row's version (the write-behind acknowledges by it, Postgres keeps the
    // newest): strictly increasing, even for two heartbeats within one millisecond.
    const [stored] = this.write<{ updated_at: number }>(
      `INSERT INTO progress (video_id, position, duration, finished, updated_at, dirty, country) VALUES (?, ?, ?, ?, ?, 1, ?)
       ON CONFLICT (video_id) DO UPDATE SET position = excluded.position, duration = excluded.duration,
         finished = excluded.finished, updated_at = max(excluded.updated_at, progress.updated_at + 1), dirty = 1,
         country = coalesce(excluded.country, progress.country)
       RETURNING updated_at`,
      input.videoId,
      input.positionSeconds,
      input.durationSeconds,
      finished ? 1 : 0,
      now,
      input.country ?? null,
    );
    const updatedAt = stored?.updated_at ?? now;
    if (finished && input.upNext) {
      this.write(
        `INSERT INTO progress (video_id, position, duration, finished, updated_at, dirty) VALUES (?, 0, NULL, 0, ?, 1)
         ON CONFLICT (video_id) DO UPDATE SET position = CASE WHEN progress.finished = 1 THEN 0 ELSE progress.position END,
           finished = 0, updated_at = max(excluded.updated_at, progress.updated_at + 1), dirty = 1`,
        input.upNext,
        updatedAt + 1,
      );
    }
    // A live lease is renewed once it has run down by a quarter: it lapses between 3/4 and all of
    // `leaseMs` after the last heartbeat, for a third of the writes.
    this.write(
      "UPDATE leases SET expires_at = ? WHERE session_id = ? AND expires_at > ? AND expires_at < ?",
      now + input.leaseMs,
      input.sessionId,
      now,
      now + input.leaseMs - input.leaseMs / 4,
    );
    if (this.meta("flush_delay_ms") !== String(input.flushDelayMs)) this.setMeta("flush_delay_ms", String(input.flushDelayMs));
    if (this.meta("continue_watching_size") !== String(input.continueWatchingSize)) {
      this.setMeta("continue_watching_size", String(input.continueWatchingSize));
    }
    // Heartbeats gather for `flushDelayMs`; with a message in flight, the alarm waits for its acknowledgement.
    await this.scheduleAlarm(now + input.flushDelayMs);
    this.heartbeats++;
    this.heartbeatRowsWritten += this.written - before;
    return {
      revoked: false,
      takenOver: this.leases.takenOver(input.sessionId),
      progress: { positionSeconds: input.positionSeconds, durationSeconds: input.durationSeconds, finished, updatedAt },
      continueWatching: this.continueWatching(input.continueWatchingSize),
    };
  }

  /** The continue-watching row: unfinished titles, most recent first. */
  private continueWatching(size: number): string[] {
    return this.ctx.storage.sql
      .exec<{ video_id: string }>("SELECT video_id FROM progress WHERE finished = 0 ORDER BY updated_at DESC, video_id LIMIT ?", size)
      .toArray()
      .map((row) => row.video_id);
  }

  /** Where the session's viewer stopped in `videoId`; `revoked` for a signed-out session. */
  async getProgress(sessionId: string, videoId: string): Promise<{ revoked: true } | { revoked: false; progress: StoredProgress | null }> {
    if (this.sessions.isRevoked(sessionId)) return { revoked: true };
    return { revoked: false, progress: this.readProgress(videoId) };
  }

  /** The viewer's unfinished titles with their positions, most recently watched first (continue watching's progress bars). */
  async listProgress(
    sessionId: string,
    limit: number,
  ): Promise<{ revoked: true } | { revoked: false; items: (StoredProgress & { videoId: string })[] }> {
    if (this.sessions.isRevoked(sessionId)) return { revoked: true };
    const rows = this.ctx.storage.sql
      .exec<{ video_id: string; position: number; duration: number | null; updated_at: number }>(
        "SELECT video_id, position, duration, updated_at FROM progress WHERE finished = 0 ORDER BY updated_at DESC, video_id LIMIT ?",
        limit,
      )
      .toArray();
    return {
      revoked: false,
      items: rows.map((row) => ({
        videoId: row.video_id,
        positionSeconds: row.position,
        durationSeconds: row.duration,
        finished: false,
        updatedAt: row.updated_at,
      })),
    };
  }

  /** A profile's My List, most recently added first; `revoked` for a signed-out session. */
  async myList(input: { sessionId: string; profileId: string }): Promise<{ revoked: true } | { revoked: false; entries: MyListEntry[] }> {
    if (this.sessions.isRevoked(input.sessionId)) return { revoked: true };
    return { revoked: false, entries: this.choices.myList(input.profileId) };
  }

  /**
   * Adds a title to a profile's My List (at most `max` titles: a full list refuses, nothing is
   * dropped for it), and answers the list after it. Durable once this returns; written behind to
   * Postgres like progress.
   */
  async addToMyList(input: {
    userId: string;
    sessionId: string;
    profileId: string;
    videoId: string;
    max: number;
    flushDelayMs: number;
  }): Promise<{ revoked: true } | ({ revoked: false } & AddToMyListResult)> {
    if (this.sessions.isRevoked(input.sessionId)) return { revoked: true };
    this.rememberOwner(input.userId);
    const result = this.choices.add(input.profileId, input.videoId, input.max, this.clock.now());
    if (result.outcome === "added") await this.choiceChanged(input.flushDelayMs);
    return { revoked: false, ...result };
  }

  /** Takes a title off a profile's My List; answers whether it was on it, and the list after. */
  async removeFromMyList(input: {
    userId: string;
    sessionId: string;
    profileId: string;
    videoId: string;
    flushDelayMs: number;
  }): Promise<{ revoked: true } | { revoked: false; removed: boolean; entries: MyListEntry[] }> {
    if (this.sessions.isRevoked(input.sessionId)) return { revoked: true };
    this.rememberOwner(input.userId);
    const result = this.choices.remove(input.profileId, input.videoId, this.clock.now());
    if (result.removed) await this.choiceChanged(input.flushDelayMs);
    return { revoked: false, ...result };
  }

  /** Sets a profile's thumb on a title: 1 up, -1 down, 0 none. */
  async rateTitle(input: {
    userId: string;
    sessionId: string;
    profileId: string;
    videoId: string;
    rating: Rating;
    flushDelayMs: number;
  }): Promise<{ revoked: boolean }> {
    if (this.sessions.isRevoked(input.sessionId)) return { revoked: true };
    this.rememberOwner(input.userId);
    if (this.choices.rate(input.profileId, input.videoId, input.rating, this.clock.now())) await this.choiceChanged(input.flushDelayMs);
    return { revoked: false };
  }

  /** A title as one profile sees it on its page: on My List or not, and its thumb. */
  async titleChoices(input: {
    sessionId: string;
    profileId: string;
    videoId: string;
  }): Promise<{ revoked: true } | { revoked: false; inMyList: boolean; rating: Rating }> {
    if (this.sessions.isRevoked(input.sessionId)) return { revoked: true };
    return {
      revoked: false,
      inMyList: this.choices.inMyList(input.profileId, input.videoId),
      rating: this.choices.rating(input.profileId, input.videoId),
    };
  }

  /** A choice changed: it goes to Postgres with the next flush (with a message in flight, after its acknowledgement). */
  private async choiceChanged(flushDelayMs: number): Promise<void> {
    if (this.meta("flush_delay_ms") !== String(flushDelayMs)) this.setMeta("flush_delay_ms", String(flushDelayMs));
    const next = nextSendAt({ pending: true, inFlightSince: this.inFlightSince(), now: this.clock.now(), flushDelayMs });
    if (next !== null) await this.scheduleAlarm(next);
  }

  /** Ends the session's stream (the player stopped, or the session signed out). */
  async releaseLease(sessionId: string): Promise<void> {
    this.leases.release(sessionId);
  }

  /**
   * The player of stream `leaseId` stopped (`POST /v1/videos/{id}/play/release`: paused for long,
   * left, reached the end, the page was hidden): its screen is free at once if the session's lease
   * is still that stream's; `bandwidthEstimate` becomes the session's next play's hint. A signed-out
   * session has nothing left to free and keeps no hint. Answers whether a screen was freed.
   */
  async releaseStream(input: { sessionId: string; leaseId: string; bandwidthEstimate?: number }): Promise<boolean> {
    if (this.sessions.isRevoked(input.sessionId)) return false;
    return this.leases.releaseStream(input);
  }

  /** Live leases, oldest expiry first. */
  async listLeases(): Promise<StreamLease[]> {
    return this.leases.list();
  }

  async flushStats(): Promise<FlushStats> {
    const dirtyRows =
      this.ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM progress WHERE dirty = 1").one().n + this.choices.dirtyRows();
    return {
      messagesSent: Number(this.meta("messages_sent") ?? 0),
      rowsAcknowledged: Number(this.meta("rows_acknowledged") ?? 0),
      sendFailures: Number(this.meta("send_failures") ?? 0),
      dirtyRows,
      inFlightSince: this.inFlightSince(),
      heartbeats: this.heartbeats,
      heartbeatRowsWritten: this.heartbeatRowsWritten,
    };
  }

  /**
   * The consumer wrote a message of this user's copies to Postgres: forgets each row whose version
   * is the one written (a row changed since stays dirty, and goes in the next message), and lets
   * the next message go.
   */
  async copiesWritten(ack: UserCopiesAck): Promise<void> {
    const forgotten = acknowledgeProgress(this.ctx.storage.sql, ack) + this.choices.acknowledge(ack);
    if (forgotten > 0) this.setMeta("rows_acknowledged", String(Number(this.meta("rows_acknowledged") ?? 0) + forgotten));
    this.setMeta("in_flight_since", null);
    const next = nextSendAt({
      pending: this.hasUnacknowledged(),
      inFlightSince: null,
      now: this.clock.now(),
      flushDelayMs: this.flushDelayMs(),
    });
    if (next !== null) await this.scheduleAlarm(next);
  }

  /**
   * Purges forgotten revocations and lapsed leases, and sends the rows Postgres has not
   * acknowledged (one message at a time; see write-behind.ts). A send the queue refuses is
   * retried with backoff.
   */
  override async alarm(): Promise<void> {
    const now = this.clock.now();
    this.sessions.purge(now);
    this.leases.purge(now);
    let retryAt: number | null = null;
    try {
      await this.sendUnacknowledged(now);
      this.setMeta("retry_ms", null);
    } catch (error) {
      const delay = Math.min(SEND_RETRY_MAX_MS, Number(this.meta("retry_ms") ?? SEND_RETRY_MIN_MS / 2) * 2);
      this.setMeta("retry_ms", String(delay));
      this.setMeta("send_failures", String(Number(this.meta("send_failures") ?? 0) + 1));
      retryAt = this.clock.now() + delay;
      this.log.warn("watch progress not handed to the queue; will retry", { retryInMs: delay, error });
    }
    const nextPurge = this.sessions.nextPurgeAt();
    const pending = this.hasUnacknowledged();
    const nextSend =
      pending && retryAt !== null
        ? retryAt
        : nextSendAt({ pending, inFlightSince: this.inFlightSince(), now: this.clock.now(), flushDelayMs: this.flushDelayMs() });
    const next = [nextPurge, nextSend].filter((at): at is number => at !== null);
    if (next.length > 0) await this.ctx.storage.setAlarm(Math.min(...next));
  }

  /** One message of the rows not yet acknowledged, unless one is in flight and not yet overdue. */
  private async sendUnacknowledged(now: number): Promise<void> {
    const inFlightSince = this.inFlightSince();
    if (inFlightSince !== null && now < inFlightSince + RESEND_AFTER_MS) return;
    const userId = this.meta("user_id");
    const progress = unacknowledgedProgress(this.ctx.storage.sql);
    const { myList, ratings } = this.choices.unacknowledged();
    const rows = progress.length + myList.length + ratings.length;
    if (!userId || rows === 0) return;
    if (inFlightSince !== null) this.log.warn("user copies unacknowledged for too long; sending them again", { inFlightSince, rows });
    // The row as it is now goes along: the consumer brings the viewer's KV copy up to date with it,
    // so heartbeats need not write it each time the row changes (workers/playback/continue-watching.ts).
    const size = Number(this.meta("continue_watching_size") ?? 0);
    const continueWatching = size > 0 ? { continueWatching: this.continueWatching(size) } : {};
    const choices = { ...(myList.length > 0 ? { myList } : {}), ...(ratings.length > 0 ? { ratings } : {}) };
    await this.sendCopies({ kind: USER_COPIES_KIND, userId, sentAt: now, progress, ...continueWatching, ...choices });
    this.setMeta("in_flight_since", String(now));
    this.setMeta("messages_sent", String(Number(this.meta("messages_sent") ?? 0) + 1));
  }

  /** Hands one message to the user-copies queue. A subclass may record it (the test Worker) or write it another way (a benchmark's old path). */
  protected async sendCopies(message: UserCopiesMessage): Promise<void> {
    await this.env.USER_COPIES_QUEUE.send(message, { contentType: "json" });
  }

  /** Whether any row waits for Postgres: progress, My List, ratings. */
  private hasUnacknowledged(): boolean {
    return hasUnacknowledgedProgress(this.ctx.storage.sql) || this.choices.hasUnacknowledged();
  }

  private inFlightSince(): number | null {
    const value = this.meta("in_flight_since");
    return value === null ? null : Number(value);
  }

  private flushDelayMs(): number {
    return Number(this.meta("flush_delay_ms") ?? 60_000);
  }

  private readProgress(videoId: string): StoredProgress | null {
    const row = this.ctx.storage.sql
      .exec<{ position: number; duration: number | null; finished: number; updated_at: number }>(
        "SELECT position, duration, finished, updated_at FROM progress WHERE video_id = ?",
        videoId,
      )
      .toArray()[0];
    return row
      ? { positionSeconds: row.position, durationSeconds: row.duration, finished: row.finished === 1, updatedAt: row.updated_at }
      : null;
  }

  /** Runs a statement, counting the rows it wrote (`bench:playback` reports them per heartbeat); answers what it returned. */
  private write<T extends Record<string, SqlStorageValue> = Record<string, SqlStorageValue>>(
    query: string,
    ...bindings: SqlStorageValue[]
  ): T[] {
    const cursor = this.ctx.storage.sql.exec<T>(query, ...bindings);
    const rows = cursor.toArray();
    this.written += cursor.rowsWritten;
    return rows;
  }

  private rememberOwner(userId: string): void {
    this.owner ??= this.meta("user_id");
    if (this.owner !== userId) {
      this.setMeta("user_id", userId);
      this.owner = userId;
    }
  }

  private meta(key: string): string | null {
    return this.ctx.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ?? null;
  }

  private setMeta(key: string, value: string | null): void {
    if (value === null) this.write("DELETE FROM meta WHERE key = ?", key);
    else this.write("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  /** Sets the alarm to `at` unless one is due sooner. */
  private async scheduleAlarm(at: number): Promise<void> {
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > at) await this.ctx.storage.setAlarm(at);
  }
}
