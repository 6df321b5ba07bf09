import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLE_KEYS } from '../../functions/db/schema.js';
import { buildApp, type ServiceApp } from '../../infra/aws/app.js';
import { RATE_LIMITED_PATHS } from '../../infra/aws/edge-stack.js';
import { deployableFunctions, FUNCTIONS, REPO_ROOT, type FunctionEntry } from '../../infra/aws/functions.js';
import { tableStatements } from '../../infra/aws/service-stack.js';
import { STAGES, type StageSettings } from '../../infra/aws/stages.js';
import { tableUsage } from './code-usage.js';

// Synthesis runs cdk-nag's AwsSolutions pack as a validation plugin, so every
// Template.fromStack below also fails on any finding without an acknowledgement.
const stage: StageSettings = { ...STAGES.test, account: '111111111111' };
const domainStage: StageSettings = {
  ...STAGES.prod,
  account: '111111111111',
  domain: {
    name: 'id.ggzy.example.gov.cn',
    regionalCertificateArn: 'arn:aws:acm:ap-east-1:111111111111:certificate/regional',
    cloudFrontCertificateArn: 'arn:aws:acm:us-east-1:111111111111:certificate/edge',
  },
  alarmEmail: 'ops@example.gov.cn',
};
const STUB = 'test/infra/fixtures/stub-handler.ts';

type Resource = { Type: string; Properties: Record<string, any> };

/** Render CloudFormation intrinsics as plain strings: GetAtt as id.attr, Ref as id, Join concatenated. */
function render(value: any): string {
  if (typeof value === 'string') return value;
  if (value?.['Fn::GetAtt']) return value['Fn::GetAtt'].join('.');
  if (value?.Ref) return value.Ref;
  if (value?.['Fn::Join']) return value['Fn::Join'][1].map(render).join(value['Fn::Join'][0]);
  return JSON.stringify(value);
}

function only(template: Template, type: string, props: Record<string, any> = {}): [string, Resource] {
  const found = Object.entries(template.findResources(type, props ? { Properties: props } : undefined));
  expect(found, `${type} resources matching ${JSON.stringify(props)}`).toHaveLength(1);
  return found[0] as [string, Resource];
}

function functionId(template: Template, name: string): string {
  return only(template, 'AWS::Lambda::Function', { FunctionName: `trading-identity-${stage.name}-${name}` })[0];
}

/** Every IAM statement attached to the role of the named function, with resources rendered. */
function roleStatements(template: Template, fnId: string): { actions: string[]; resources: string[] }[] {
  const fn = template.toJSON().Resources[fnId] as Resource;
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
  return policies
    .filter((policy) => policy.Properties.Roles.some((role: any) => role.Ref === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement)
    .map((statement: any) => ({
      actions: [statement.Action].flat(),
      resources: [statement.Resource].flat().map(render),
    }));
}

function dynamoGrants(statements: { actions: string[]; resources: string[] }[]): Map<string, Set<string>> {
  const grants = new Map<string, Set<string>>();
  for (const statement of statements) {
    for (const action of statement.actions.filter((a) => a.startsWith('dynamodb:'))) {
      for (const resource of statement.resources) {
        if (!grants.has(action)) grants.set(action, new Set());
        grants.get(action)!.add(resource);
      }
    }
  }
  return grants;
}

describe('service stack', () => {
  let built: ServiceApp;
  let template: Template;
  let edge: Template;
  let tableId: string;

  beforeAll(() => {
    built = buildApp({ app: new App(), stage });
    template = Template.fromStack(built.service);
    edge = Template.fromStack(built.edge);
    tableId = only(template, 'AWS::DynamoDB::Table')[0];
  }, 120_000);

  it('table keys come from the schema', () => {
    const [, table] = only(template, 'AWS::DynamoDB::Table');
    expect(table.Properties.KeySchema).toEqual([
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
    ]);
    const indexes = table.Properties.GlobalSecondaryIndexes.map((index: any) => ({
      name: index.IndexName,
      keys: index.KeySchema.map((key: any) => key.AttributeName),
    }));
    expect(indexes).toEqual(TABLE_KEYS.indexes.map((index) => ({ name: index.name, keys: [index.partitionKey, index.sortKey] })));
  });

  it('table has PITR, encryption, TTL and streams', () => {
    const [, table] = only(template, 'AWS::DynamoDB::Table');
    expect(table.Properties.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties.SSESpecification).toEqual({ SSEEnabled: true });
    expect(table.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'ttl', Enabled: true });
    expect(table.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
  });

  it('deploys exactly the entries whose handler exists', () => {
    // Functions without a name are CDK's own providers (the cross-region reference reader).
    const names = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((fn: any) => fn.Properties.FunctionName)
      .filter(Boolean);
    expect(names.sort()).toEqual(deployableFunctions().map((entry) => `trading-identity-${stage.name}-${entry.name}`).sort());
    expect(names).toContain(`trading-identity-${stage.name}-api`);
    expect(names).toContain(`trading-identity-${stage.name}-oidc`);
  });

  it('functions run nodejs22.x on arm64 with the configuration', () => {
    for (const entry of deployableFunctions()) {
      const fn = template.toJSON().Resources[functionId(template, entry.name)] as Resource;
      expect(fn.Properties.Runtime, entry.name).toBe('nodejs22.x');
      expect(fn.Properties.Architectures, entry.name).toEqual(['arm64']);
      expect(fn.Properties.Handler, entry.name).toBe('index.handler');
      const env = fn.Properties.Environment.Variables;
      expect(render(env.TABLE_NAME), entry.name).toBe(tableId);
      expect(render(env.PUBLIC_ORIGIN), entry.name).toMatch(/^https:\/\/Distribution\w+\.DomainName$/);
      expect(env.OIDC_ISSUER, entry.name).toEqual(env.PUBLIC_ORIGIN);
      expect(env.LOG_LEVEL, entry.name).toBe(stage.logLevel);
      expect(env.TRUST_REFRESH_SECONDS, entry.name).toBe(String(stage.trustRefreshSeconds));
      expect(env.CHALLENGE_TTL_SECONDS, entry.name).toBe(String(stage.challengeTtlSeconds));
      expect('OIDC_KEYS_SECRET_ARN' in env, entry.name).toBe(Boolean(entry.readsProviderKeys));
    }
  });

  it('function roles grant exactly their table actions', () => {
    for (const entry of deployableFunctions()) {
      const grants = dynamoGrants(roleStatements(template, functionId(template, entry.name)));
      const expected = new Map<string, Set<string>>();
      for (const action of entry.table.actions.filter((a) => a !== 'Query')) expected.set(`dynamodb:${action}`, new Set([`${tableId}.Arn`]));
      expected.set('dynamodb:Query', new Set(entry.table.queryIndexes.map((index) => `${tableId}.Arn/index/${index}`)));
      if (entry.triggers.some((trigger) => trigger.kind === 'tableStream')) {
        // Reading the stream: ListStreams has no resource-level permissions, so AWS requires "*".
        expected.set('dynamodb:ListStreams', new Set(['*']));
        for (const action of ['DescribeStream', 'GetRecords', 'GetShardIterator']) expected.set(`dynamodb:${action}`, new Set([`${tableId}.StreamArn`]));
      }
      expect(grants, entry.name).toEqual(expected);
    }
  });

  it('function roles have no other permissions', () => {
    for (const entry of deployableFunctions()) {
      const fnId = functionId(template, entry.name);
      const logGroupId = render(template.toJSON().Resources[fnId].Properties.LoggingConfig.LogGroup);
      for (const statement of roleStatements(template, fnId)) {
        for (const action of statement.actions) {
          expect(action, `${entry.name} action`).not.toContain('*');
          if (action.startsWith('dynamodb:')) continue;
          if (action.startsWith('logs:')) {
            expect(statement.resources, `${entry.name} ${action}`).toEqual([`${logGroupId}.Arn`]);
          } else if (action.startsWith('secretsmanager:')) {
            expect(entry.readsProviderKeys, `${entry.name} reads the provider keys`).toBe(true);
            expect(['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret']).toContain(action);
            expect(statement.resources, entry.name).toEqual([expect.stringMatching(/^ProviderKeys[0-9A-F]{8}$/)]);
          } else if (action.startsWith('sqs:')) {
            // Queues it sends to or consumes from, as its entry declares.
            const queues = [...(entry.sendsTo ?? []), ...entry.triggers.flatMap((trigger) => (trigger.kind === 'queue' ? [trigger.queue] : []))];
            expect(queues.length, `${entry.name} uses a queue`).toBeGreaterThan(0);
            expect(statement.resources.every((resource) => /^(Deliveries\w*|StreamFailures|\w*DeadLetter\w*)[0-9A-F]{8}\.Arn$/.test(resource)), `${entry.name} ${action} ${statement.resources}`).toBe(true);
          } else {
            throw new Error(`function ${entry.name} is granted ${action} on ${statement.resources.join(', ')}, which its entry does not explain`);
          }
        }
      }
    }
  });

  it('granted table actions match the code', async () => {
    for (const entry of deployableFunctions()) {
      const usage = await tableUsage(REPO_ROOT, entry.entry);
      const hint = `${entry.name}: update its entry in infra/aws/functions.ts to the DynamoDB commands in ${usage.files.join(', ')}`;
      expect([...entry.table.actions].sort(), hint).toEqual([...usage.actions].sort());
      expect([...entry.table.queryIndexes].sort(), hint).toEqual([...usage.queryIndexes].sort());
    }
  }, 60_000);

  it('keys secret starts with an empty key set', () => {
    const [, secret] = only(template, 'AWS::SecretsManager::Secret');
    expect(secret.Properties.SecretString).toBeUndefined();
    expect(JSON.parse(secret.Properties.GenerateSecretString.SecretStringTemplate)).toEqual({ jwks: { keys: [] }, cookieKeys: [] });
  });

  it('deliveries queue has a dead-letter queue', () => {
    const queues = template.findResources('AWS::SQS::Queue');
    const withRedrive = Object.values(queues).filter((queue: any) => queue.Properties.RedrivePolicy);
    expect(withRedrive).toHaveLength(1);
    const redrive = (withRedrive[0] as Resource).Properties.RedrivePolicy;
    expect(redrive.maxReceiveCount).toBe(5);
    expect(Object.keys(queues)).toContain(render(redrive.deadLetterTargetArn).replace(/\.Arn$/, ''));
    for (const [id, queue] of Object.entries(queues) as [string, Resource][]) {
      expect(queue.Properties.SqsManagedSseEnabled, id).toBe(true);
    }
  });

  it('alarms cover errors, throttles and dead letters', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
    const topicId = only(template, 'AWS::SNS::Topic')[0];
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions.map(render)).toEqual([topicId]);
    const byMetric = (namespace: string, metric: string) =>
      alarms.filter((alarm) => alarm.Properties.Namespace === namespace && alarm.Properties.MetricName === metric);
    const functionNames = (metric: string) =>
      byMetric('AWS/Lambda', metric).map((alarm) => render(alarm.Properties.Dimensions[0].Value)).sort();
    const functionIds = deployableFunctions().map((entry) => functionId(template, entry.name)).sort();
    expect(functionNames('Errors')).toEqual(functionIds);
    expect(functionNames('Throttles')).toEqual(functionIds);
    const deadLetterAlarms = byMetric('AWS/SQS', 'ApproximateNumberOfMessagesVisible').map((alarm) => render(alarm.Properties.Dimensions[0].Value));
    expect(deadLetterAlarms.sort()).toEqual(['DeliveriesDeadLetters', 'JobFailures', 'StreamFailures'].map((id) => expect.stringMatching(new RegExp(`^${id}\\w+\\.QueueName$`))));
    const tableThrottles = alarms.filter((alarm) => JSON.stringify(alarm.Properties.Metrics ?? []).includes('ThrottleEvents'));
    expect(tableThrottles).toHaveLength(1);
    expect(byMetric('AWS/ApiGateway', '5xx')).toHaveLength(1);
  });

  it('API stage throttles the public routes', () => {
    const [, apiStage] = only(template, 'AWS::ApiGatewayV2::Stage');
    expect(apiStage.Properties.DefaultRouteSettings).toMatchObject({
      ThrottlingRateLimit: stage.defaultThrottle.ratePerSecond,
      ThrottlingBurstLimit: stage.defaultThrottle.burst,
    });
    const routeKeys = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((route: any) => route.Properties.RouteKey);
    const expected: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
    for (const entry of deployableFunctions()) {
      for (const trigger of entry.triggers) {
        if (trigger.kind !== 'http') continue;
        for (const route of trigger.routes.filter((r) => r.throttle)) {
          const limit = stage.throttles[route.throttle!];
          expected[`${route.method} ${route.path}`] = { ThrottlingRateLimit: limit.ratePerSecond, ThrottlingBurstLimit: limit.burst };
        }
      }
    }
    expect(Object.keys(expected)).toEqual(expect.arrayContaining(['POST /api/enterprises', 'POST /api/challenges', 'POST /token']));
    expect(apiStage.Properties.RouteSettings).toEqual(expected);
    for (const key of Object.keys(expected)) expect(routeKeys, `route ${key} exists for its settings`).toContain(key);
    expect(apiStage.Properties.AccessLogSettings.DestinationArn).toBeDefined();
  });

  it('WAF rate rules guard the public endpoints', () => {
    const [, acl] = only(edge, 'AWS::WAFv2::WebACL');
    expect(acl.Properties.Scope).toBe('CLOUDFRONT');
    const rules = acl.Properties.Rules as any[];
    expect(rules.map((rule) => rule.Name).sort()).toEqual(['rate-challenge', 'rate-login', 'rate-registration']);
    for (const rule of rules) {
      const name = rule.Name.slice('rate-'.length) as keyof typeof RATE_LIMITED_PATHS;
      const statement = rule.Statement.RateBasedStatement;
      expect(rule.Action, rule.Name).toEqual({ Block: {} });
      expect(statement.Limit, rule.Name).toBe(stage.waf[name]);
      expect(statement.EvaluationWindowSec, rule.Name).toBe(stage.waf.windowSeconds);
      expect(statement.AggregateKeyType, rule.Name).toBe('IP');
      const searched = [...JSON.stringify(statement.ScopeDownStatement).matchAll(/"SearchString":"([^"]+)"/g)].map((m) => m[1]);
      expect(searched, rule.Name).toEqual(RATE_LIMITED_PATHS[name]);
    }
    const [, distribution] = only(template, 'AWS::CloudFront::Distribution');
    expect(JSON.stringify(distribution.Properties.DistributionConfig.WebACLId)).toMatch(/WebAcl/);
  });

  it('serves static pages from a private bucket', () => {
    const [, distribution] = only(template, 'AWS::CloudFront::Distribution');
    const config = distribution.Properties.DistributionConfig;
    expect(config.CacheBehaviors.map((behavior: any) => behavior.PathPattern)).toEqual(['/static/*']);
    expect(config.Origins.some((origin: any) => origin.OriginAccessControlId)).toBe(true);
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'web-bucket/' }),
    });
  });

  it('execute-api endpoint stays on without a domain', () => {
    const [, api] = only(template, 'AWS::ApiGatewayV2::Api');
    expect(api.Properties.DisableExecuteApiEndpoint).toBe(false);
    template.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
  });

  it('nag rejects an unexplained finding', () => {
    const app = new App();
    const { service } = buildApp({ app, stage });
    new Queue(service, 'Unexplained');
    expect(() => app.synth()).toThrow(/Unexplained\/Resource[\s\S]*AwsSolutions-SQS3/);
  }, 120_000);
});

describe('service stack with a custom domain', () => {
  let template: Template;

  beforeAll(() => {
    template = Template.fromStack(buildApp({ app: new App(), stage: domainStage }).service);
  }, 120_000);

  it('disables the execute-api endpoint', () => {
    const [, api] = only(template, 'AWS::ApiGatewayV2::Api');
    expect(api.Properties.DisableExecuteApiEndpoint).toBe(true);
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: domainStage.domain!.name,
      DomainNameConfigurations: [Match.objectLike({ CertificateArn: domainStage.domain!.regionalCertificateArn })],
    });
    template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
  });

  it('issuer is the custom domain', () => {
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as Resource[];
    for (const fn of functions.filter((candidate) => candidate.Properties.FunctionName)) {
      expect(fn.Properties.Environment.Variables.PUBLIC_ORIGIN).toBe(`https://${domainStage.domain!.name}`);
      expect(fn.Properties.Environment.Variables.OIDC_ISSUER).toBe(`https://${domainStage.domain!.name}`);
    }
  });

  it('CloudFront serves the domain with TLS 1.2', () => {
    const [, distribution] = only(template, 'AWS::CloudFront::Distribution');
    const config = distribution.Properties.DistributionConfig;
    expect(config.Aliases).toEqual([domainStage.domain!.name]);
    expect(config.ViewerCertificate).toMatchObject({
      AcmCertificateArn: domainStage.domain!.cloudFrontCertificateArn,
      MinimumProtocolVersion: 'TLSv1.2_2021',
    });
  });

  it('keeps data when the stack is deleted', () => {
    const [, table] = Object.entries(template.toJSON().Resources).find(([, r]: any) => r.Type === 'AWS::DynamoDB::Table') as [string, any];
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: domainStage.alarmEmail });
  });
});

describe('service stack with every entry', () => {
  // The entries of handlers still to come, each bundled from a stub, so their
  // triggers and permissions are checked before the handlers exist.
  const entries: FunctionEntry[] = FUNCTIONS.map((entry) => ({ ...entry, entry: STUB }));
  let template: Template;

  beforeAll(() => {
    template = Template.fromStack(buildApp({ app: new App(), stage, functions: entries }).service);
  }, 180_000);

  it('dispatcher reads the table stream', () => {
    const [, mapping] = only(template, 'AWS::Lambda::EventSourceMapping', { EventSourceArn: Match.objectLike({ 'Fn::GetAtt': Match.arrayWith(['StreamArn']) }) });
    expect(render(mapping.Properties.FunctionName)).toMatch(/^dispatcherFunction/);
    expect(mapping.Properties.StartingPosition).toBe('TRIM_HORIZON');
    expect(mapping.Properties.BisectBatchOnFunctionError).toBe(true);
    expect(render(mapping.Properties.DestinationConfig.OnFailure.Destination)).toMatch(/^StreamFailures\w+\.Arn$/);
    // Only new feed events and logins waiting in the outbox invoke it.
    const patterns = mapping.Properties.FilterCriteria.Filters.map((filter: { Pattern: string }) => JSON.parse(filter.Pattern));
    expect(patterns).toEqual([
      { eventName: ['INSERT'], dynamodb: { NewImage: { kind: { S: ['event'] } } } },
      { eventName: ['INSERT'], dynamodb: { NewImage: { gsi3pk: { S: ['LOGINOUTBOX'] } } } },
    ]);
  });

  it('dispatcher sends to and consumes deliveries', () => {
    const [, mapping] = only(template, 'AWS::Lambda::EventSourceMapping', { EventSourceArn: Match.objectLike({ 'Fn::GetAtt': Match.arrayWith([Match.stringLikeRegexp('^Deliveries[0-9A-F]+$')]) }) });
    expect(render(mapping.Properties.FunctionName)).toMatch(/^dispatcherFunction/);
    expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    const fnId = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith('dispatcherFunction'))![0];
    const fn = template.toJSON().Resources[fnId] as Resource;
    expect(render(fn.Properties.Environment.Variables.DELIVERY_QUEUE_URL)).toMatch(/^Deliveries\w+$/);
    const roleId = fn.Properties.Role['Fn::GetAtt'][0];
    const statements = (Object.values(template.findResources('AWS::IAM::Policy')) as Resource[])
      .filter((policy) => policy.Properties.Roles.some((role: any) => role.Ref === roleId))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
    const send = statements.find((s: any) => [s.Action].flat().includes('sqs:SendMessage'));
    expect(render(send.Resource)).toMatch(/^Deliveries[0-9A-F]+\.Arn$/);
  });

  it('jobs run on the stage schedules', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule')) as Resource[];
    expect(rules.map((rule) => rule.Properties.ScheduleExpression).sort()).toEqual([stage.schedules.crlRefresh, stage.schedules.expiry, stage.schedules.feedSweep].sort());
    for (const rule of rules) {
      expect(render(rule.Properties.Targets[0].DeadLetterConfig.Arn)).toMatch(/^JobFailures\w+\.Arn$/);
    }
  });

  it('feed and ca-sync routes go to their functions', () => {
    const routeKeys = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((route: any) => route.Properties.RouteKey);
    expect(routeKeys).toEqual(expect.arrayContaining(['ANY /api/admin/{proxy+}', 'ANY /api/ca/{proxy+}', 'ANY /api/feed/{proxy+}', 'ANY /api/{proxy+}', '$default']));
  });

  it('every function gets its error alarm', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
    expect(alarms.filter((alarm) => alarm.Properties.MetricName === 'Errors')).toHaveLength(FUNCTIONS.length);
  });
});

describe('table statements', () => {
  const entry = FUNCTIONS[0];

  it('rejects an unknown index', () => {
    expect(() => tableStatements({ ...entry, table: { actions: ['Query'], queryIndexes: ['gsi9'] } }, 'arn')).toThrow(/unknown index gsi9/);
  });

  it('rejects indexes without Query', () => {
    expect(() => tableStatements({ ...entry, table: { actions: ['GetItem'], queryIndexes: ['gsi1'] } }, 'arn')).toThrow(/not the Query action/);
  });

  it('grants Query on the table without indexes', () => {
    const statements = tableStatements({ ...entry, table: { actions: ['GetItem', 'Query'], queryIndexes: [] } }, 'arn').map((s) => s.toStatementJson());
    expect(statements).toEqual([{ Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:Query'], Resource: 'arn' }]);
  });
});
