import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { config, webauthnConfig } from '../lib/config.js';
import { loadProviderKeys } from '../../oidc/keys.js';
import { providerLambdaHandler, type LambdaHandler } from '../../oidc/lambda.js';
import { createProvider } from '../../oidc/provider.js';

let ready: Promise<LambdaHandler> | undefined;

/** Build the provider once per instance: keys are loaded on the first request, not per request. */
async function init(): Promise<LambdaHandler> {
  // Invalid passkey settings fail the instance at start, with the rule they break.
  webauthnConfig();
  return providerLambdaHandler(createProvider(config().issuer, await loadProviderKeys()));
}

/** Lambda entry point for the OpenID Connect provider and its login interaction. */
export async function handler(event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> {
  ready ??= init().catch((error) => {
    ready = undefined;
    throw error;
  });
  return (await ready)(event, context);
}
