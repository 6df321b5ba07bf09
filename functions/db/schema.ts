/**
 * The single-table layout shared by the local host (which creates the table in
 * DynamoDB Local) and the CDK stack (which creates it in AWS).
 *
 * Item kinds, by partition key prefix:
 *   ENT#<creditCode> / ENT         enterprise record (version = per-enterprise event order; gsi1: ENTNAME#<first character> for name search)
 *   SUB#<sub> / SUB                maps the OIDC subject to the credit code
 *   CERT#<sha256> / CERT           certificate binding (gsi1: ENTCERT#<code>, gsi2: SERIAL#<issuerNameHash>#<serial>;
 *                                  gsi3: CERTEXPIRY / <notAfter>#<sha256> while active, for the expiry run)
 *   CHAL#<nonce> / CHAL            single-use challenge (ttl)
 *   CA#<id> / CA                   CA profile (gsi1: CAPROFILES)
 *   TRUST / VERSION                trust store version, bumped on every CA profile change
 *   FEED / HEAD                    feed-wide event sequence counter
 *   FEED#<bucket> / <seq>          event (gsi1: EVT#ENT#<code>, gsi2: EVT#CA#<caId>)
 *   PUSH#<consumer> / PUSH         feed consumer: push endpoint or internal reaction, cursor and lease (gsi1: PUSHCONSUMERS)
 *   OIDC#<model>#<id> / OIDC       oidc-provider storage (gsi1: OIDCUID#, OIDCUSER#, OIDCCC#<clientId> for client-credentials tokens;
 *                                  gsi2: OIDCGRANT#, OIDCACCOUNT# for sessions)
 *   LOGIN#<grantId> / LOGIN        login context (ttl; gsi2: LOGINWAC#<credentialId> for passkey logins;
 *                                  gsi3: LOGINOUTBOX / <login time>#<uid> until its login event is published)
 *   WAC#<credentialId> / WAC       WebAuthn credential (gsi1: OWNERWAC#ENT#<code> or OWNERWAC#OP#<sub>)
 *   OP#<sub> / OP                  operator account (subject prefix op_)
 *   PLATFORM#<clientId> / PLATFORM platform client registered through the admin API, without its secret (gsi1: PLATFORMS)
 *   ENROLL#<sha256> / ENROLL       one-time operator enrollment link (ttl)
 *   STATS#LOGIN#<day> / STATS      daily login counters per client and method
 */
export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'ttl',
  indexes: [
    { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
    { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
    // Sparse: only active certificate bindings carry gsi3pk, so the expiry run reads what expires by a date.
    { name: 'gsi3', partitionKey: 'gsi3pk', sortKey: 'gsi3sk' },
  ],
} as const;

export const DEFAULT_TABLE_NAME = 'trading-identity';
