/**
 * Titles this browser created, newest first. The API has no "every video" listing for admins (the
 * catalog lists ready ones only), so a title that is still uploading is found again from here.
 */
const KEY = "reelstream.admin.recent";
const LIMIT = 50;

export interface RecentTitle {
  id: string;
  title: string;
}

export function recentTitles(): RecentTitle[] {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? "[]") as RecentTitle[];
  } catch {
    return [];
  }
}

export function rememberTitle(entry: RecentTitle): void {
  const rest = recentTitles().filter((item) => item.id !== entry.id);
  localStorage.setItem(KEY, JSON.stringify([entry, ...rest].slice(0, LIMIT)));
}

export function forgetTitle(id: string): void {
  localStorage.setItem(KEY, JSON.stringify(recentTitles().filter((item) => item.id !== id)));
}
