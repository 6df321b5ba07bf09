import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type Provider from 'oidc-provider';
import serverless from 'serverless-http';

export type LambdaHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** Wrap a provider's Koa app as an API Gateway HTTP API (payload v2) handler. */
export function providerLambdaHandler(provider: Provider): LambdaHandler {
  const callback = provider.callback();
  // serverless-http marks every request as TLS. API Gateway always is, but the
  // local host speaks plain HTTP and says so in X-Forwarded-Proto.
  const app = (req: IncomingMessage, res: ServerResponse) => {
    (req.socket as { encrypted?: boolean }).encrypted = req.headers['x-forwarded-proto'] !== 'http';
    return callback(req, res);
  };
  return serverless(app, { provider: 'aws' }) as unknown as LambdaHandler;
}
