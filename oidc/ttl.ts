/** Lifetime of the grant and login context created at login, in seconds (14 days). */
export const GRANT_TTL_SECONDS = 14 * 24 * 3600;
