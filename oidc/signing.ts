/**
 * JWS algorithm of ID tokens (and logout tokens) for clients that register no
 * id_token_signed_response_alg. The provider keys hold an ES256 key for it.
 */
export const DEFAULT_ID_TOKEN_SIGNING_ALG = 'ES256';
