/** Authentication context class references this provider issues. */
export const ACR = {
  certificate: 'urn:trading-identity:acr:certificate',
  passkey: 'urn:trading-identity:acr:passkey',
} as const;

/** Claims released with the `enterprise` scope, in the ID token and at userinfo. */
export const ENTERPRISE_CLAIMS = ['credit_code', 'enterprise_name', 'verification_status', 'x5t#S256', 'auth_method'] as const;

/** Claims released with the `admin` scope to the admin console, for operators. */
export const OPERATOR_CLAIMS = ['name', 'role', 'auth_method'] as const;
