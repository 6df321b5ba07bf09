/** Deployment settings, read from the environment once per process. */
export interface ServiceConfig {
  /** Public origin of this service (scheme, host, port), e.g. https://id.example.gov.cn. */
  origin: string;
  /** OIDC issuer identifier; the origin unless configured otherwise. */
  issuer: string;
  /** Lifetime of certificate challenges, in seconds. */
  challengeTtlSeconds: number;
}

export function config(): ServiceConfig {
  const origin = (process.env.PUBLIC_ORIGIN ?? 'http://localhost:3000').replace(/\/$/, '');
  return {
    origin,
    issuer: (process.env.OIDC_ISSUER ?? origin).replace(/\/$/, ''),
    challengeTtlSeconds: Number(process.env.CHALLENGE_TTL_SECONDS ?? 300),
  };
}
