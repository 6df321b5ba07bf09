import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { IncomingMessage, ServerResponse } from 'node:http';
import serverless from 'serverless-http';
import { getProvider } from '../../oidc/instance.js';

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

let ready: Promise<Handler> | undefined;

/** Build the provider once per instance: keys are loaded on the first request, not per request. */
async function init(): Promise<Handler> {
  const provider = await getProvider();
  const callback = provider.callback();
  // serverless-http marks every request as TLS; API Gateway always is, but the
  // local host speaks plain HTTP and says so in X-Forwarded-Proto.
  const app = (req: IncomingMessage, res: ServerResponse) => {
    (req.socket as { encrypted?: boolean }).encrypted = req.headers['x-forwarded-proto'] !== 'http';
    return callback(req, res);
  };
  return serverless(app, { provider: 'aws' }) as unknown as Handler;
}

/** Lambda entry point for the OpenID Connect provider and its login interaction. */
export async function handler(event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> {
  ready ??= init().catch((error) => {
    ready = undefined;
    throw error;
  });
  return (await ready)(event, context);
}
