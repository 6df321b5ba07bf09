/**
 * Stage settings: everything that differs between deployments of the service
 * lives here, so a province's operator edits one file. Pick a stage with
 * `cdk deploy -c stage=<name>`.
 */

/** API Gateway throttle: steady requests per second and burst size, per route, across all callers. */
export interface RouteThrottle {
  ratePerSecond: number;
  burst: number;
}

/** Throttle limits by the kind of public endpoint they protect. */
export type ThrottleName = 'registration' | 'challenge' | 'login';

/** Scheduled jobs; values are EventBridge schedule expressions. */
export type ScheduleName = 'crlRefresh' | 'expiry' | 'feedSweep';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface CustomDomain {
  /** Host name clients use, e.g. id.ggzy.example.gov.cn; the OIDC issuer becomes https://<name>. */
  name: string;
  /** ACM certificate for the name in the stack's region, used by the API's regional custom domain. */
  regionalCertificateArn: string;
  /** ACM certificate for the name in us-east-1, used by CloudFront. */
  cloudFrontCertificateArn: string;
}

export interface StageSettings {
  /** Stage name, part of every stack name. */
  name: string;
  /** AWS region of the service stack; the WAF stack is always in us-east-1 because CloudFront requires it. */
  region: string;
  /** AWS account; omitted means the account of the credentials running cdk. */
  account?: string;
  /** Custom domain; without one the service is reached at its CloudFront domain name. */
  domain?: CustomDomain;
  logLevel: LogLevel;
  /** Days CloudWatch Logs keeps function and access logs; one of the values CloudWatch accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...). */
  logRetentionDays: number;
  /** Email address subscribed to alarm notifications; omitted means subscribe later in the console. */
  alarmEmail?: string;
  /** Throttle for routes without a limit of their own. */
  defaultThrottle: RouteThrottle;
  throttles: Record<ThrottleName, RouteThrottle>;
  /**
   * AWS WAF rate-based rules: requests from one client IP address allowed in
   * `windowSeconds` (60, 120, 300 or 600) before WAF blocks that address.
   * WAF accepts limits from 10 up.
   */
  waf: { windowSeconds: 60 | 120 | 300 | 600 } & Record<ThrottleName, number>;
  schedules: Record<ScheduleName, string>;
  /** How often each instance rereads the trust store version, in seconds (TRUST_REFRESH_SECONDS). */
  trustRefreshSeconds: number;
  /** Lifetime of certificate challenges, in seconds (CHALLENGE_TTL_SECONDS). */
  challengeTtlSeconds: number;
  /** Whether deleting the stack keeps the table, keys secret and buckets (true for production). */
  retainData: boolean;
}

const COMMON = {
  logLevel: 'info',
  logRetentionDays: 90,
  defaultThrottle: { ratePerSecond: 200, burst: 400 },
  throttles: {
    registration: { ratePerSecond: 10, burst: 20 },
    challenge: { ratePerSecond: 50, burst: 100 },
    login: { ratePerSecond: 100, burst: 200 },
  },
  waf: { windowSeconds: 300, registration: 100, challenge: 300, login: 300 },
  schedules: { crlRefresh: 'rate(1 hour)', expiry: 'cron(0 1 * * ? *)', feedSweep: 'rate(1 minute)' },
  trustRefreshSeconds: 5,
  challengeTtlSeconds: 300,
} satisfies Partial<StageSettings>;

// NOTE: the throttle and WAF figures are starting points, not measured
// capacity; size them from the platforms' real login peaks before production.
export const STAGES: Record<string, StageSettings> = {
  test: { ...COMMON, name: 'test', region: 'ap-east-1', logLevel: 'debug', logRetentionDays: 14, retainData: false },
  prod: { ...COMMON, name: 'prod', region: 'ap-east-1', retainData: true },
};

/** Return the named stage, or throw an error listing the valid names. */
export function stageSettings(name: string | undefined): StageSettings {
  const chosen = name ?? 'test';
  const stage = STAGES[chosen];
  if (!stage) {
    throw new Error(`unknown stage "${chosen}"; pass -c stage=<name> with one of: ${Object.keys(STAGES).join(', ')}`);
  }
  return stage;
}
