import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { CfnWebACL } from 'aws-cdk-lib/aws-wafv2';
import type { Construct } from 'constructs';
import type { StageSettings, ThrottleName } from './stages.js';

/**
 * URI path prefixes of the public, unauthenticated endpoints that each WAF
 * rate-based rule counts. Login covers the authorization and token endpoints and
 * the certificate submission; challenge covers both challenge endpoints.
 */
export const RATE_LIMITED_PATHS: Record<ThrottleName, string[]> = {
  registration: ['/api/enterprises'],
  challenge: ['/api/challenges', '/interaction/'],
  login: ['/auth', '/token'],
};

export interface EdgeStackProps extends StackProps {
  stage: StageSettings;
}

/**
 * The AWS WAF web ACL in front of the CloudFront distribution. CloudFront only
 * accepts web ACLs created in us-east-1, so this stack lives there whatever
 * region the service uses.
 */
export class EdgeStack extends Stack {
  readonly webAclArn: string;

  constructor(scope: Construct, id: string, props: EdgeStackProps) {
    super(scope, id, props);
    const { stage } = props;
    const names = Object.keys(RATE_LIMITED_PATHS) as ThrottleName[];
    const rules: CfnWebACL.RuleProperty[] = names.map((name, index) => ({
      name: `rate-${name}`,
      priority: index,
      action: { block: {} },
      statement: {
        rateBasedStatement: {
          limit: stage.waf[name],
          evaluationWindowSec: stage.waf.windowSeconds,
          aggregateKeyType: 'IP',
          scopeDownStatement: pathStartsWithAny(RATE_LIMITED_PATHS[name]),
        },
      },
      visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: `rate-${name}`, sampledRequestsEnabled: true },
    }));
    const acl = new CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      defaultAction: { allow: {} },
      visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: `trading-identity-${stage.name}`, sampledRequestsEnabled: true },
      rules,
    });
    this.webAclArn = acl.attrArn;
    new CfnOutput(this, 'WebAclArn', { value: acl.attrArn });
  }
}

function pathStartsWith(prefix: string): CfnWebACL.StatementProperty {
  return {
    byteMatchStatement: {
      fieldToMatch: { uriPath: {} },
      positionalConstraint: 'STARTS_WITH',
      searchString: prefix,
      textTransformations: [{ priority: 0, type: 'NONE' }],
    },
  };
}

function pathStartsWithAny(prefixes: string[]): CfnWebACL.StatementProperty {
  if (prefixes.length === 1) return pathStartsWith(prefixes[0]);
  return { orStatement: { statements: prefixes.map(pathStartsWith) } };
}
