/**
 * Maturity ratings: a closed set, in order (Netflix's levels). A title has one; a profile has a
 * ceiling (the highest rating it may see). The rank (the index here) is what is compared: in
 * Postgres (`videos.maturity_rank`, generated from the rating), in the access token (`mc`) and in
 * cache keys.
 */
export const maturityRatings = ["all", "7+", "13+", "16+", "18+"] as const;
export type MaturityRating = (typeof maturityRatings)[number];
/** 0 (`all`) to 4 (`18+`). */
export type MaturityRank = 0 | 1 | 2 | 3 | 4;

/** What a title with no known rating counts as: the highest, so no ceiling shows it by mistake. */
export const UNRATED: MaturityRating = "18+";
/** The ceiling of a profile that may see everything. */
export const NO_CEILING: MaturityRank = 4;

export function maturityRank(rating: MaturityRating): MaturityRank {
  return maturityRatings.indexOf(rating) as MaturityRank;
}

export function isMaturityRank(value: unknown): value is MaturityRank {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value < maturityRatings.length;
}

export function ratingOfRank(rank: MaturityRank): MaturityRating {
  return maturityRatings[rank] ?? UNRATED;
}
