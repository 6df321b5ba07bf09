/** An error response of the service: status, stable code, message and details. */
export class ServiceError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, any> = {},
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

/**
 * Call a JSON endpoint of this service. Error bodies {error, message,
 * details} become a ServiceError; a network failure becomes NETWORK.
 */
export async function callJson<T = any>(path: string, options: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(path, { method: options.method ?? (options.body === undefined ? 'GET' : 'POST'), headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), credentials: 'same-origin' });
  } catch (error) {
    throw new ServiceError(0, 'NETWORK', `the service at ${location.origin} could not be reached (${(error as Error).message})`);
  }
  const text = await response.text();
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ServiceError(response.status, 'NOT_JSON', `${path} returned ${response.status} without a JSON body`);
  }
  if (!response.ok) throw new ServiceError(response.status, body?.error ?? `HTTP_${response.status}`, body?.message ?? body?.error_description ?? `${path} returned ${response.status}`, body?.details);
  return body as T;
}
