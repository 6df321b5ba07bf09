import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { EdgeStack } from './edge-stack.js';
import type { FunctionEntry } from './functions.js';
import { suppressExplainedFindings } from './nag.js';
import { ServiceStack } from './service-stack.js';
import { stageSettings, type StageSettings } from './stages.js';

export interface ServiceApp {
  app: App;
  edge: EdgeStack;
  service: ServiceStack;
}

export interface BuildAppOptions {
  app?: App;
  /** Stage settings; defaults to the stage named by the `stage` context value. */
  stage?: StageSettings;
  functions?: FunctionEntry[];
}

/**
 * Build both stacks of a stage: the WAF web ACL in us-east-1 and the service in
 * the stage's region, with cdk-nag's AwsSolutions checks applied to both.
 */
export function buildApp(options: BuildAppOptions = {}): ServiceApp {
  const app = options.app ?? new App();
  const stage = options.stage ?? stageSettings(app.node.tryGetContext('stage'));
  const account = stage.account ?? process.env.CDK_DEFAULT_ACCOUNT;
  const prefix = `TradingIdentity-${stage.name}`;

  const edge = new EdgeStack(app, `${prefix}-Edge`, {
    stage,
    env: { account, region: 'us-east-1' },
    crossRegionReferences: true,
    description: `Trading identity ${stage.name}: WAF web ACL for CloudFront`,
  });
  const service = new ServiceStack(app, `${prefix}-Service`, {
    stage,
    env: { account, region: stage.region },
    crossRegionReferences: true,
    webAclArn: edge.webAclArn,
    functions: options.functions,
    providerKeysGeneration: app.node.tryGetContext('providerKeysGeneration'),
    description: `Trading identity ${stage.name}: table, functions, API, queues, jobs, pages, alarms`,
  });
  service.addStackDependency(edge);
  for (const stack of [edge, service]) {
    Tags.of(stack).add('service', 'trading-identity');
    Tags.of(stack).add('stage', stage.name);
  }
  suppressExplainedFindings(edge, service);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, edge, service };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildApp().app.synth();
}
