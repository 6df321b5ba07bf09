import { Validations } from 'aws-cdk-lib';
import { HttpRoute } from 'aws-cdk-lib/aws-apigatewayv2';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { IConstruct } from 'constructs';
import type { EdgeStack } from './edge-stack.js';
import type { ServiceStack } from './service-stack.js';

/** One accepted cdk-nag AwsSolutions finding and why it is accepted. */
export interface NagAcknowledgement {
  rule: string;
  reason: string;
}

export const ROUTE_AUTHORIZATION: NagAcknowledgement = {
  rule: 'AwsSolutions-APIG4',
  reason:
    'The OIDC endpoints, registration, lookups and challenges are public by design. Routes for operators, CA firms and platforms ' +
    'authenticate the bearer access token inside the handler (functions/lib/auth.ts), because tokens are opaque and revocation ' +
    'must take effect at once, which an API Gateway JWT authorizer cannot check.',
};

export const LAMBDA_RUNTIME: NagAcknowledgement = {
  rule: 'AwsSolutions-L1',
  reason: 'nodejs22.x is the runtime the code is built and tested for (bundle target node22); move to a newer runtime after testing on it.',
};

export const KEY_ROTATION: NagAcknowledgement = {
  rule: 'AwsSolutions-SMG4',
  reason:
    'OIDC signing keys rotate in published stages (add, then sign, then retire) so tokens signed by the old key stay verifiable; ' +
    'an automatic single-step rotation would break them. The procedure is in docs/deploy.md.',
};

export const DEAD_LETTER_QUEUE: NagAcknowledgement = {
  rule: 'AwsSolutions-SQS3',
  reason: 'This queue is itself a dead-letter destination (stream or schedule failures); it has no consumer that could fail.',
};

export const GEO_RESTRICTION: NagAcknowledgement = {
  rule: 'AwsSolutions-CFR1',
  reason: 'Enterprises and platforms may sign in from any country; abuse is limited by WAF rate rules and API throttling instead.',
};

export const DEFAULT_CERTIFICATE: NagAcknowledgement = {
  rule: 'AwsSolutions-CFR4',
  reason:
    'Only stages without a custom domain get this finding: the CloudFront default certificate cannot enforce TLS 1.2. ' +
    'With a domain the distribution uses TLSv1.2_2021. Production stages must set a domain.',
};

export const STREAM_LISTING: NagAcknowledgement = {
  rule: 'AwsSolutions-IAM5[Resource::*]',
  reason:
    'dynamodb:ListStreams has no resource-level permissions, so IAM only accepts "*" for it; the read actions ' +
    '(DescribeStream, GetRecords, GetShardIterator) are limited to the table stream ARN.',
};

function acknowledge(construct: IConstruct, item: NagAcknowledgement): void {
  Validations.of(construct).acknowledge({ id: `AwsSolutions::${item.rule}`, reason: item.reason });
}

/**
 * Acknowledge the AwsSolutions findings that are accepted on purpose, each on
 * the narrowest construct it applies to and with its reason. Any other finding
 * fails synthesis.
 */
export function suppressExplainedFindings(_edge: EdgeStack, service: ServiceStack): void {
  for (const construct of service.node.findAll()) {
    if (construct instanceof HttpRoute) acknowledge(construct, ROUTE_AUTHORIZATION);
    if (construct instanceof NodejsFunction) acknowledge(construct, LAMBDA_RUNTIME);
  }
  for (const fn of service.streamConsumers) acknowledge(fn.role!, STREAM_LISTING);
  acknowledge(service.node.findChild('ProviderKeys'), KEY_ROTATION);
  acknowledge(service.node.findChild('StreamFailures'), DEAD_LETTER_QUEUE);
  acknowledge(service.node.findChild('JobFailures'), DEAD_LETTER_QUEUE);
  acknowledge(service.distribution, GEO_RESTRICTION);
  if (!service.stageDomain) acknowledge(service.distribution, DEFAULT_CERTIFICATE);
}
