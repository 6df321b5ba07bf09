import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { ApiMapping, CfnStage, HttpApi, HttpMethod, HttpRoute, HttpRouteKey, DomainName } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  Function as CloudFrontFunction,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  OriginSslPolicy,
  SecurityPolicyProtocol,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { Alarm, ComparisonOperator, MathExpression, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { AttributeType, BillingMode, StreamViewType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Architecture, FilterCriteria, FilterRule, Runtime, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption, type IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { TABLE_KEYS } from '../../functions/db/schema.js';
import { LOGIN_OUTBOX_PARTITION } from '../../functions/db/login-context.js';
import { BUNDLE_ALIASES, ESM_REQUIRE_BANNER, LAMBDA_BUNDLE_OPTIONS } from '../bundling.js';
import { deployableFunctions, REPO_ROOT, type FunctionEntry, type QueueName, type TableAction } from './functions.js';
import type { StageSettings } from './stages.js';

export interface ServiceStackProps extends StackProps {
  stage: StageSettings;
  /** ARN of the WAF web ACL (scope CLOUDFRONT) attached to the distribution. */
  webAclArn: string;
  /** Function entries to consider; defaults to every entry whose handler file exists. */
  functions?: FunctionEntry[];
  /**
   * Changing this value restarts every function instance, which then reloads
   * the provider keys; the key rotation procedure uses it.
   */
  providerKeysGeneration?: string;
}

/**
 * The service in one region: the table, the provider keys, one Lambda function
 * per entry of FUNCTIONS, the HTTP API behind CloudFront and WAF, the queues,
 * scheduled jobs, static pages and alarms.
 */
export class ServiceStack extends Stack {
  readonly table: Table;
  readonly functions = new Map<string, NodejsFunction>();
  /** Functions triggered by the table stream. */
  readonly streamConsumers: NodejsFunction[] = [];
  readonly queues = new Map<QueueName, Queue>();
  readonly api: HttpApi;
  readonly distribution: Distribution;
  readonly alarmTopic: Topic;
  readonly publicOrigin: string;
  /** Custom domain name of the stage, if any. */
  readonly stageDomain: string | undefined;

  private readonly stage: StageSettings;
  private readonly alarmAction: SnsAction;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const { stage } = props;
    this.stage = stage;
    this.stageDomain = stage.domain?.name;
    const removalPolicy = stage.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.table = this.createTable(removalPolicy);
    const providerKeys = new Secret(this, 'ProviderKeys', {
      description: 'OIDC token signing keys (JWKS) and cookie keys; set with the keys script, see docs/deploy.md',
      // An empty key set: the OIDC function fails every request until the keys
      // script stores real keys, so no placeholder key can ever sign a token.
      // CloudFormation applies a generated value only when it creates the
      // secret, unlike a literal SecretString, which every update of the
      // resource would write back over the stored keys.
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ jwks: { keys: [] }, cookieKeys: [] }),
        generateStringKey: 'unused',
      },
      removalPolicy,
    });

    this.alarmTopic = this.createAlarmTopic();
    this.alarmAction = new SnsAction(this.alarmTopic);

    const deliveries = this.createQueueWithDeadLetters('Deliveries', Duration.minutes(6));
    this.queues.set('deliveries', deliveries);
    const streamFailures = this.createDeadLetterQueue('StreamFailures');
    const jobFailures = this.createDeadLetterQueue('JobFailures');

    this.api = new HttpApi(this, 'Api', {
      apiName: `trading-identity-${stage.name}`,
      description: 'Trading identity service: registration API and OpenID Connect provider',
      createDefaultStage: false,
      // Discovery URLs are built from the request host, so with a custom domain
      // the execute-api host must not serve the API at all.
      disableExecuteApiEndpoint: Boolean(stage.domain),
    });
    const apiStage = this.api.addStage('DefaultStage', { stageName: '$default', autoDeploy: true });
    const apiDomain = stage.domain
      ? new DomainName(this, 'ApiDomain', {
          domainName: stage.domain.name,
          certificate: Certificate.fromCertificateArn(this, 'RegionalCertificate', stage.domain.regionalCertificateArn),
        })
      : undefined;
    if (apiDomain) new ApiMapping(this, 'ApiMapping', { api: this.api, domainName: apiDomain, stage: apiStage });

    const web = this.createWebBucket(removalPolicy);
    this.distribution = this.createDistribution(web.bucket, web.logs, props.webAclArn, apiDomain);
    this.publicOrigin = stage.domain ? `https://${stage.domain.name}` : `https://${this.distribution.distributionDomainName}`;

    const environment: Record<string, string> = {
      TABLE_NAME: this.table.tableName,
      PUBLIC_ORIGIN: this.publicOrigin,
      OIDC_ISSUER: this.publicOrigin,
      LOG_LEVEL: stage.logLevel,
      TRUST_REFRESH_SECONDS: String(stage.trustRefreshSeconds),
      CHALLENGE_TTL_SECONDS: String(stage.challengeTtlSeconds),
    };

    const throttledRoutes: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
    for (const entry of props.functions ?? deployableFunctions()) {
      const fn = this.createFunction(entry, {
        ...environment,
        ...(entry.readsProviderKeys
          ? { OIDC_KEYS_SECRET_ARN: providerKeys.secretArn, OIDC_KEYS_GENERATION: props.providerKeysGeneration ?? '1' }
          : {}),
        ...(entry.sendsTo?.includes('deliveries') ? { DELIVERY_QUEUE_URL: deliveries.queueUrl } : {}),
      });
      this.functions.set(entry.name, fn);
      if (entry.readsProviderKeys) providerKeys.grantRead(fn);
      for (const name of entry.sendsTo ?? []) this.queues.get(name)!.grantSendMessages(fn);

      for (const trigger of entry.triggers) {
        if (trigger.kind === 'http') {
          const integration = new HttpLambdaIntegration(`${entry.name}Integration`, fn);
          trigger.routes.forEach((route, index) => {
            const routeKey = route.path === '$default' ? HttpRouteKey.DEFAULT : HttpRouteKey.with(route.path, HttpMethod[route.method]);
            new HttpRoute(this, `${entry.name}Route${index}`, { httpApi: this.api, routeKey, integration });
            if (route.throttle) {
              const limit = stage.throttles[route.throttle];
              throttledRoutes[routeKey.key] = { ThrottlingRateLimit: limit.ratePerSecond, ThrottlingBurstLimit: limit.burst };
            }
          });
        } else if (trigger.kind === 'schedule') {
          new Rule(this, `${entry.name}Schedule`, {
            description: `Runs the ${entry.name} job`,
            schedule: Schedule.expression(stage.schedules[trigger.schedule]),
            targets: [new LambdaFunction(fn, { deadLetterQueue: jobFailures, retryAttempts: 2 })],
          });
        } else if (trigger.kind === 'tableStream') {
          this.streamConsumers.push(fn);
          fn.addEventSource(
            new DynamoEventSource(this.table, {
              startingPosition: StartingPosition.TRIM_HORIZON,
              // Only inserted feed events and logins waiting in the outbox invoke the dispatcher, not every session or token write.
              filters: [
                FilterCriteria.filter({ eventName: FilterRule.isEqual('INSERT'), dynamodb: { NewImage: { kind: { S: FilterRule.isEqual('event') } } } }),
                FilterCriteria.filter({ eventName: FilterRule.isEqual('INSERT'), dynamodb: { NewImage: { gsi3pk: { S: FilterRule.isEqual(LOGIN_OUTBOX_PARTITION) } } } }),
              ],
              batchSize: 100,
              bisectBatchOnError: true,
              reportBatchItemFailures: true,
              retryAttempts: 10,
              onFailure: new SqsDlq(streamFailures),
            }),
          );
        } else {
          fn.addEventSource(new SqsEventSource(this.queues.get(trigger.queue)!, { batchSize: 10, reportBatchItemFailures: true }));
        }
      }
    }
    this.configureStage(apiStage.node.defaultChild as CfnStage, throttledRoutes);
    this.createAlarms([deliveries.deadLetterQueue!.queue, streamFailures, jobFailures]);

    new CfnOutput(this, 'PublicOrigin', { value: this.publicOrigin, description: 'Issuer and base URL of the service' });
    new CfnOutput(this, 'DistributionDomainName', { value: this.distribution.distributionDomainName, description: 'Point the custom domain (CNAME or alias) here' });
    new CfnOutput(this, 'TableName', { value: this.table.tableName });
    new CfnOutput(this, 'ProviderKeysSecretArn', { value: providerKeys.secretArn });
    new CfnOutput(this, 'WebBucketName', { value: web.bucket.bucketName, description: 'Upload dist/web here under static/' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topicArn });
  }

  private createTable(removalPolicy: RemovalPolicy): Table {
    const table = new Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
      stream: StreamViewType.NEW_AND_OLD_IMAGES,
      deletionProtection: this.stage.retainData,
      removalPolicy,
    });
    for (const index of TABLE_KEYS.indexes) {
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
      });
    }
    return table;
  }

  private createAlarmTopic(): Topic {
    // CloudWatch can publish to an encrypted topic only with a customer managed
    // key whose policy lets CloudWatch use it; the AWS managed SNS key does not.
    const key = new Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the alarm notification topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    const topic = new Topic(this, 'AlarmTopic', { displayName: `Trading identity ${this.stage.name} alarms`, masterKey: key, enforceSSL: true });
    if (this.stage.alarmEmail) topic.addSubscription(new EmailSubscription(this.stage.alarmEmail));
    return topic;
  }

  private createDeadLetterQueue(id: string): Queue {
    return new Queue(this, id, {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
  }

  private createQueueWithDeadLetters(id: string, visibilityTimeout: Duration): Queue {
    return new Queue(this, id, {
      visibilityTimeout,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.createDeadLetterQueue(`${id}DeadLetters`), maxReceiveCount: 5 },
    });
  }

  private createFunction(entry: FunctionEntry, environment: Record<string, string>): NodejsFunction {
    const functionName = `trading-identity-${this.stage.name}-${entry.name}`;
    const logGroup = new LogGroup(this, `${entry.name}Logs`, {
      logGroupName: `/aws/lambda/${functionName}`,
      retention: this.stage.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An own role per function instead of AWSLambdaBasicExecutionRole: it may
    // write only to its own log group and touch only what its entry lists.
    const role = new Role(this, `${entry.name}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${functionName}`,
    });
    role.addToPolicy(
      new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    );
    for (const statement of tableStatements(entry, this.table.tableArn)) role.addToPolicy(statement);

    return new NodejsFunction(this, `${entry.name}Function`, {
      functionName,
      description: `${entry.name} (${entry.entry})`,
      entry: `${REPO_ROOT}/${entry.entry}`,
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: `${REPO_ROOT}/package-lock.json`,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: entry.memoryMb ?? 512,
      timeout: Duration.seconds(entry.timeoutSeconds ?? 29),
      role,
      logGroup,
      environment,
      bundling: {
        format: OutputFormat.ESM,
        target: LAMBDA_BUNDLE_OPTIONS.target,
        minify: LAMBDA_BUNDLE_OPTIONS.minify,
        keepNames: LAMBDA_BUNDLE_OPTIONS.keepNames,
        mainFields: LAMBDA_BUNDLE_OPTIONS.mainFields,
        banner: ESM_REQUIRE_BANNER,
        sourceMap: false,
        // Bundle the AWS SDK as well, like npm run build does.
        externalModules: [],
        esbuildArgs: {
          '--tree-shaking': 'true',
          '--legal-comments': LAMBDA_BUNDLE_OPTIONS.legalComments,
          '--alias': Object.entries(BUNDLE_ALIASES).map(([from, to]) => `${from}=${to}`),
        },
        forceDockerBundling: false,
      },
    });
  }

  /** Set the stage default throttle, the per-route limits and JSON access logs on the HTTP API stage. */
  private configureStage(stage: CfnStage, routes: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }>): void {
    const accessLogs = new LogGroup(this, 'ApiAccessLogs', { retention: this.stage.logRetentionDays, removalPolicy: RemovalPolicy.DESTROY });
    stage.defaultRouteSettings = {
      throttlingRateLimit: this.stage.defaultThrottle.ratePerSecond,
      throttlingBurstLimit: this.stage.defaultThrottle.burst,
    };
    stage.addPropertyOverride('RouteSettings', routes);
    stage.accessLogSettings = {
      destinationArn: accessLogs.logGroupArn,
      format: JSON.stringify({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        time: '$context.requestTime',
        method: '$context.httpMethod',
        path: '$context.path',
        routeKey: '$context.routeKey',
        status: '$context.status',
        latencyMs: '$context.responseLatency',
        integrationError: '$context.integrationErrorMessage',
      }),
    };
  }

  private createWebBucket(removalPolicy: RemovalPolicy): { bucket: Bucket; logs: Bucket } {
    // CloudFront standard logging writes with ACLs, so the log bucket allows object writer ownership.
    const logs = new Bucket(this, 'AccessLogs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ expiration: Duration.days(this.stage.logRetentionDays) }],
      removalPolicy,
    });
    const bucket = new Bucket(this, 'Web', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: 'web-bucket/',
      removalPolicy,
    });
    return { bucket, logs };
  }

  private createDistribution(web: Bucket, logs: Bucket, webAclArn: string, apiDomain: DomainName | undefined): Distribution {
    const domain = this.stage.domain;
    // oidc-provider builds endpoint URLs from the request host. CloudFront sends
    // the API's own host name to API Gateway, so the viewer's host travels in
    // X-Forwarded-Host, which the provider trusts (proxy mode).
    const forwardHost = new CloudFrontFunction(this, 'ForwardHost', {
      runtime: FunctionRuntime.JS_2_0,
      comment: 'Copies the viewer Host header into X-Forwarded-Host',
      code: FunctionCode.fromInline(
        "function handler(event) { var request = event.request; request.headers['x-forwarded-host'] = { value: request.headers.host.value }; return request; }",
      ),
    });
    const apiOrigin = new HttpOrigin(apiDomain ? apiDomain.regionalDomainName : `${this.api.apiId}.execute-api.${this.region}.${this.urlSuffix}`, {
      protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [OriginSslPolicy.TLS_V1_2],
    });
    return new Distribution(this, 'Distribution', {
      comment: `Trading identity ${this.stage.name}`,
      defaultBehavior: {
        origin: apiOrigin,
        allowedMethods: AllowedMethods.ALLOW_ALL,
        cachePolicy: CachePolicy.CACHING_DISABLED,
        // With a custom domain the API is reached through its regional custom
        // domain, which API Gateway selects by the Host header, so Host is forwarded.
        originRequestPolicy: domain ? OriginRequestPolicy.ALL_VIEWER : OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        functionAssociations: [{ function: forwardHost, eventType: FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: {
        '/static/*': {
          origin: S3BucketOrigin.withOriginAccessControl(web),
          viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        },
      },
      webAclId: webAclArn,
      domainNames: domain ? [domain.name] : undefined,
      certificate: domain ? Certificate.fromCertificateArn(this, 'CloudFrontCertificate', domain.cloudFrontCertificateArn) : undefined,
      minimumProtocolVersion: domain ? SecurityPolicyProtocol.TLS_V1_2_2021 : undefined,
      httpVersion: HttpVersion.HTTP2_AND_3,
      enableLogging: true,
      logBucket: logs,
      logFilePrefix: 'cloudfront/',
    });
  }

  private alarm(id: string, metric: IMetric, threshold: number, description: string): Alarm {
    const alarm = new Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(this.alarmAction);
    return alarm;
  }

  private createAlarms(deadLetterQueues: IQueue[]): void {
    const period = Duration.minutes(5);
    for (const [name, fn] of this.functions) {
      this.alarm(`${name}Errors`, fn.metricErrors({ period }), 1, `${name} function invocations failed`);
      this.alarm(`${name}Throttles`, fn.metricThrottles({ period }), 1, `${name} function invocations were throttled (concurrency limit)`);
    }
    for (const queue of deadLetterQueues) {
      this.alarm(
        `${queue.node.id}Visible`,
        queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
        1,
        `messages arrived in the dead-letter queue ${queue.node.id}; inspect them, fix the cause, then redrive`,
      );
    }
    this.alarm(
      'TableThrottles',
      new MathExpression({
        expression: 'reads + writes',
        usingMetrics: {
          reads: this.table.metric('ReadThrottleEvents', { period, statistic: 'Sum' }),
          writes: this.table.metric('WriteThrottleEvents', { period, statistic: 'Sum' }),
        },
        period,
      }),
      1,
      'DynamoDB throttled reads or writes on the service table',
    );
    this.alarm('ApiServerErrors', this.api.metricServerError({ period }), 5, 'the HTTP API answered 5xx five or more times in 5 minutes');
  }
}

/**
 * Build the table statements of one function: item actions on the table ARN,
 * and Query on exactly the indexes the entry lists. Throws when the entry
 * names an index the schema does not define or lists indexes without Query.
 */
export function tableStatements(entry: FunctionEntry, tableArn: string): PolicyStatement[] {
  const known = new Set<string>(TABLE_KEYS.indexes.map((index) => index.name));
  const unknown = entry.table.queryIndexes.filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new Error(`function ${entry.name} queries unknown index ${unknown.join(', ')}; functions/db/schema.ts defines ${[...known].join(', ')}`);
  }
  const queries = entry.table.actions.includes('Query');
  if (entry.table.queryIndexes.length > 0 && !queries) {
    throw new Error(`function ${entry.name} lists query indexes but not the Query action; add 'Query' to its table actions`);
  }
  const statements: PolicyStatement[] = [];
  const itemActions: TableAction[] = entry.table.actions.filter((action) => action !== 'Query');
  if (queries && entry.table.queryIndexes.length === 0) itemActions.push('Query');
  if (itemActions.length > 0) {
    statements.push(new PolicyStatement({ effect: Effect.ALLOW, actions: itemActions.map((a) => `dynamodb:${a}`), resources: [tableArn] }));
  }
  if (queries && entry.table.queryIndexes.length > 0) {
    statements.push(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['dynamodb:Query'],
        resources: entry.table.queryIndexes.map((name) => `${tableArn}/index/${name}`),
      }),
    );
  }
  return statements;
}
