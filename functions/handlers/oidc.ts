import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { webauthnConfig } from '../lib/config.js';
import { getProvider } from '../../oidc/instance.js';
import { mountInteractions } from '../../oidc/interactions.js';
import { providerLambdaHandler, type LambdaHandler } from '../../oidc/lambda.js';

let ready: Promise<LambdaHandler> | undefined;

/** Build the provider once per instance: keys are loaded on the first request, not per request. */
async function init(): Promise<LambdaHandler> {
  // Invalid passkey settings fail the instance at start, with the rule they break.
  webauthnConfig();
  const provider = await getProvider();
  // The login pages are mounted here, not in createProvider, so functions that
  // only need the provider's models (the feed dispatcher) do not bundle them.
  mountInteractions(provider);
  return providerLambdaHandler(provider);
}

/** Lambda entry point for the OpenID Connect provider and its login interaction. */
export async function handler(event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> {
  ready ??= init().catch((error) => {
    ready = undefined;
    throw error;
  });
  return (await ready)(event, context);
}
