/**
 * Event type URIs carried in the feed. CAEP and RISC types are used where one
 * fits; the rest are this service's own, under a stable URN namespace.
 */
const OWN = 'urn:trading-identity:event:';

export const EVENT_TYPES = {
  enterpriseRegistered: `${OWN}enterprise-registered`,
  enterpriseVerified: `${OWN}enterprise-verified`,
  enterpriseUpdated: `${OWN}enterprise-updated`,
  certificateBound: `${OWN}certificate-bound`,
  /** A CA firm's import: the certificates of one transaction, grouped by enterprise (see docs/feed.md). */
  certificatesImported: `${OWN}certificates-imported`,
  certificateRevoked: `${OWN}certificate-revoked`,
  certificateExpired: `${OWN}certificate-expired`,
  /** OpenID CAEP credential change: used for WebAuthn credentials added, renamed or revoked. */
  credentialChange: 'https://schemas.openid.net/secevent/caep/event-type/credential-change',
  /** OpenID CAEP session revoked. */
  sessionRevoked: 'https://schemas.openid.net/secevent/caep/event-type/session-revoked',
  caStatusChanged: `${OWN}ca-status-changed`,
  /** A CA firm tried to act on a certificate outside its own CA profiles. */
  caSyncDenied: `${OWN}ca-sync-denied`,
  /** A CA profile was created or its settings changed (anchors, algorithms, revocation sources). */
  caProfileChanged: `${OWN}ca-profile-changed`,
  /** A CA firm or operator pushed a new CRL. */
  crlPushed: `${OWN}crl-pushed`,
  /** The scheduled refresh stored a newer CRL fetched from one of a CA's CRL URLs. */
  crlRefreshed: `${OWN}crl-refreshed`,
  /** An operator registered a platform client or rotated its secret; read by operators only (see OPERATORS_ONLY). */
  platformClientChanged: `${OWN}platform-client-changed`,
  login: `${OWN}login`,
} as const;

/**
 * Audience of events that no platform may read. The feed shows an event that
 * has an audience only to the platform client with that id, and the `internal:`
 * prefix is kept for the service's own feed consumers, so these events appear
 * in the operators' audit view alone.
 */
export const OPERATORS_ONLY = 'internal:operators';
