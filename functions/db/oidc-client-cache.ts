/**
 * Seconds a Client registration read from the table is reused by this
 * instance. oidc-provider reads the client several times per login, so a short
 * cache removes most reads. A registration changed by another instance (for
 * example a rotated secret) takes effect within this bound; one changed in
 * this process takes effect at once.
 */
export const CLIENT_CACHE_SECONDS = Number(process.env.CLIENT_CACHE_SECONDS ?? 10);

/** Client registrations by client id, as the provider's adapter last read them. */
export const clientCache = new Map<string, { payload: Record<string, unknown> | undefined; until: number }>();
