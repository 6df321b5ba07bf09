import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { getProvider } from '../../oidc/instance.js';
import { providerLambdaHandler, type LambdaHandler } from '../../oidc/lambda.js';

let ready: Promise<LambdaHandler> | undefined;

/** Lambda entry point for the OpenID Connect provider and its login interaction. */
export async function handler(event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> {
  // The provider is built once per instance: keys are loaded on the first request, not per request.
  ready ??= getProvider()
    .then(providerLambdaHandler)
    .catch((error) => {
      ready = undefined;
      throw error;
    });
  return (await ready)(event, context);
}
