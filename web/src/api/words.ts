import { ApiProblem, NetworkError } from "./problem.ts";

/**
 * Words for people: every error a viewer or an admin can meet, in one place. The API's `detail`
 * and its field messages are written for developers (they name routes, fields and ids); the app
 * shows none of them. It reads the problem's `code` (and the status, and which fields `errors`
 * names) and says here, in its own words, what happened and what to do, for what the person was
 * doing (`Task`).
 */
export type Task =
  | "sign-in"
  | "sign-up"
  | "sign-out"
  | "plans"
  | "change-plan"
  | "browse"
  | "search"
  | "title"
  | "play"
  | "save-place"
  | "my-list"
  | "rate"
  | "admin"
  | "admin-save"
  | "admin-delete"
  | "upload"
  | "page";

export interface Words {
  title: string;
  body: string;
  /** Whether trying the same thing again can help (a Try again button). */
  retry: boolean;
}

const seconds = (value: number | null) => (value === null ? "a moment" : value <= 1 ? "a second" : `${value} seconds`);

/** What each task is, for the sentences that name it. */
const doing: Record<Task, string> = {
  "sign-in": "sign you in",
  "sign-up": "create your account",
  "sign-out": "sign you out",
  plans: "load the plans",
  "change-plan": "change your plan",
  browse: "load the titles",
  search: "search",
  title: "load this title",
  play: "start this title",
  "save-place": "save your place",
  "my-list": "change My List",
  rate: "save your rating",
  admin: "load this page",
  "admin-save": "save the title",
  "admin-delete": "delete the title",
  upload: "upload the file",
  page: "load this page",
};

/** `Task`-specific words for a problem code; the general ones below apply otherwise. */
const byTask: Partial<Record<string, Partial<Record<Task, Omit<Words, "retry"> & { retry?: boolean }>>>> = {
  "invalid-credentials": {
    "sign-in": { title: "Wrong email or password", body: "Check both and try again." },
  },
  conflict: {
    "sign-up": { title: "This email already has an account", body: "Sign in with it instead, or use another email address." },
    play: {
      title: "This title is not ready yet",
      body: "It is still being prepared for streaming. That usually takes a few minutes.",
      retry: true,
    },
    upload: { title: "An upload is already under way", body: "Wait for it to finish, or reload the page to see where it is." },
    "my-list": { title: "My List is full", body: "It holds 100 titles, the most a list can. Remove a title from My List to add this one." },
  },
  "not-found": {
    title: { title: "This title is not available", body: "It may have been removed. The home page has plenty more." },
    play: { title: "This title is not available", body: "It may have been removed. The home page has plenty more." },
    "my-list": { title: "This title is not available", body: "It may have been removed, so it cannot go on My List." },
    rate: { title: "This title is not available", body: "It may have been removed, so it cannot be rated." },
    "save-place": {
      title: "This title is not available any more",
      body: "It was removed while you watched, so your place cannot be kept.",
    },
    admin: { title: "This title does not exist any more", body: "It may have been deleted. Go back to the admin page." },
    "admin-save": { title: "This title does not exist any more", body: "It may have been deleted meanwhile." },
    "admin-delete": { title: "This title is already gone", body: "Someone deleted it meanwhile." },
  },
  forbidden: {
    admin: { title: "Admins only", body: "Your account is a viewer account." },
    "admin-save": { title: "Admins only", body: "Your account is a viewer account." },
    "admin-delete": { title: "Admins only", body: "Your account is a viewer account." },
    upload: { title: "Admins only", body: "Your account is a viewer account." },
  },
  "payload-too-large": {
    upload: { title: "This file is too large", body: "Files up to 64 GB can be uploaded. Choose a smaller file." },
  },
};

/** Words for a problem code, whatever the task. */
function general(problem: ApiProblem, task: Task): Words {
  const wait = seconds(problem.retryAfterSeconds);
  switch (problem.problem.code) {
    case "validation":
    case "bad-request":
      return { title: "Some of this needs fixing", body: "Check the fields marked below and try again.", retry: false };
    case "invalid-credentials":
    case "unauthorized":
      return { title: "Your session has ended", body: "Sign in again to go on.", retry: false };
    case "payment-required":
      return { title: "You need a plan to watch", body: "Choose a plan and you can start watching right away.", retry: false };
    case "stream-taken-over":
      return {
        title: "Watching on another device",
        body: "All your screens were in use and another device chose to watch there instead, so playback stopped here. Your place is saved.",
        retry: false,
      };
    case "stream-replaced":
      return {
        title: "Playing in another window",
        body: "This browser started playing in another tab or window, so it stopped here. Your place is saved.",
        retry: false,
      };
    case "stream-ended":
      return { title: "Playback stopped", body: "This screen was freed after a long pause. Press play to go on.", retry: true };
    case "forbidden":
      return { title: "Not allowed", body: "Your account cannot do this.", retry: false };
    case "not-found":
      return { title: "Not found", body: "It may have been removed. The home page has plenty more.", retry: false };
    case "too-many-requests":
      return {
        title: task === "sign-in" || task === "sign-up" ? "Too many attempts" : "Slow down a little",
        body: `Wait ${wait} and try again.`,
        retry: true,
      };
    case "unavailable":
      return { title: "Reelstream is busy", body: `We could not ${doing[task]} just now. Try again in ${wait}.`, retry: true };
    case "payload-too-large":
      return { title: "Too much to send", body: "Shorten what you typed and try again.", retry: false };
    default:
      return problem.status >= 500
        ? { title: "Something went wrong on our side", body: `We could not ${doing[task]}. Try again in a moment.`, retry: true }
        : { title: "That did not work", body: `We could not ${doing[task]}. Try again, or reload the page.`, retry: true };
  }
}

/**
 * What to tell a person about `error`, met while doing `task`.
 *
 * @example
 * describeError(new NetworkError(cause), "search") // { title: "No connection", body: "…", retry: true }
 */
export function describeError(error: unknown, task: Task): Words {
  if (error instanceof NetworkError) {
    return {
      title: "No connection",
      body: "Reelstream could not be reached. Check your connection, then try again.",
      retry: true,
    };
  }
  if (error instanceof ApiProblem) {
    const code = error.problem.code ?? (error.status === 401 ? "unauthorized" : "");
    const special = byTask[code]?.[task];
    if (special) return { retry: false, ...special };
    return general(error.problem.code ? error : new ApiProblem({ ...error.problem, code }, error.retryAfterSeconds), task);
  }
  if (error instanceof Error && /dynamically imported module|Failed to fetch|Importing a module script failed/i.test(error.message)) {
    return { title: "No connection", body: "Part of the page could not be loaded. Check your connection, then try again.", retry: true };
  }
  return { title: "Something went wrong", body: `We could not ${doing[task]}. Try again, or reload the page.`, retry: true };
}

/** A field's name as a person reads it, for fields the API names that a form does not show. */
const fieldLabels: Record<string, string> = {
  name: "Name",
  email: "Email",
  password: "Password",
  title: "Title",
  summary: "Summary",
  genres: "Genres",
  releaseYear: "Release year",
  cast: "Cast",
  maturityRating: "Maturity rating",
};

const lengthWords = (label: string, value: string, max: number) => {
  const length = value.trim().length;
  if (length === 0) return `Enter ${label}.`;
  if (length > max) return `Use at most ${max} characters (this has ${length}).`;
  return "Remove the hidden or control characters pasted into it.";
};

/** The rules behind each field, as instructions; `value` is what was sent, to say which rule it broke. */
const fieldRules: Record<string, (value: string, task: Task) => string> = {
  name: (value) => lengthWords("your name", value, 100),
  email: () => "Enter an email address like name@example.com.",
  password: (value, task) => {
    if (task === "sign-in") return "Enter your password.";
    const length = [...value.normalize("NFKC")].length;
    if (length < 10) return "Use at least 10 characters.";
    if (length > 128) return "Use at most 128 characters.";
    return "This password is too easy to guess: a few unrelated words make a strong one.";
  },
  title: (value) => lengthWords("a title", value, 200),
  summary: (value) => lengthWords("a summary", value, 4000),
  genres: () => "Up to 10 genres, separated by commas, each up to 40 letters, digits, spaces, '&', apostrophes or hyphens.",
  releaseYear: (value) => {
    const year = value.trim();
    if (!/^\d{1,4}$/.test(year)) return "Enter the year as four digits, like 1994.";
    if (Number(year) < 1888) return "Enter a year from 1888 on (the first film).";
    return `Enter a year no later than ${new Date().getFullYear() + 5}.`;
  },
  cast: () => "Up to 200 names, separated by commas, each up to 120 characters.",
  maturityRating: () => "Choose one of the ratings in the list: all ages, 7, 13, 16 or 18 and over.",
};

/**
 * The fields `error` says are wrong, each with its instruction in words (not the API's message),
 * from what was sent (`values`).
 *
 * @example
 * fieldWords(problem, { releaseYear: "19x4" }, "admin-save") // { releaseYear: "Enter the year as four digits, like 1994." }
 */
export function fieldWords(error: unknown, values: Record<string, unknown>, task: Task): Record<string, string> {
  if (!(error instanceof ApiProblem)) return {};
  const words: Record<string, string> = {};
  for (const item of error.problem.errors ?? []) {
    const field = item.path.split(".")[0] ?? "";
    if (field in words) continue;
    const value = values[field];
    const text = Array.isArray(value) ? value.join(", ") : value === undefined || value === null ? "" : String(value);
    words[field] = fieldRules[field]?.(text, task) ?? "This value is not valid.";
  }
  return words;
}

export function fieldLabel(field: string): string {
  return fieldLabels[field] ?? "A field";
}
