import type { Generated, Selectable } from 'kysely';
import type { Filter } from '../../protocol/resources.js';

/** The portal's tables as kysely sees them (the SQL lives in migrations.ts). */
export interface Database {
  accounts: AccountsTable;
  groups: { id: string; name: string };
  memberships: { account_id: string; group_id: string };
  sites: { id: string; name: string };
  gateway_tokens: { id: string; site_id: string; token_hash: string; created_at: Generated<Date> };
  resources: ResourcesTable;
  policies: { id: string; group_id: string; resource_id: string };
  settings: { key: string; value: unknown };
  client_tokens: ClientTokensTable;
  sign_in_requests: SignInRequestsTable;
  auth_codes: AuthCodesTable;
  devices: DevicesTable;
  gateways: GatewaysTable;
  preshared_keys: { device_id: string; gateway_id: string; key: string };
  authorizations: AuthorizationsTable;
}

export interface AccountsTable {
  id: string;
  email: string;
  kind: 'user' | 'service';
  password_hash: string | null;
  /** `issuer subject` of the OIDC identity that signed in as this account. */
  oidc_subject: string | null;
  disabled: Generated<boolean>;
  created_at: Generated<Date>;
}

export interface ResourcesTable {
  id: string;
  name: string;
  type: 'dns' | 'cidr';
  address: string;
  site_id: string;
  filters: Filter[];
  ip_stack: 'dual' | 'ipv4' | 'ipv6';
}

export interface ClientTokensTable {
  id: string;
  account_id: string;
  token_hash: string;
  created_at: Generated<Date>;
  expires_at: Date;
  revoked_at: Date | null;
}

export interface SignInRequestsTable {
  id: string;
  redirect_uri: string;
  state: string;
  nonce: string;
  code_challenge: string;
  /** Towards the upstream IdP, when the user chose OIDC. */
  oidc_state: string | null;
  oidc_nonce: string | null;
  oidc_verifier: string | null;
  expires_at: Date;
}

export interface AuthCodesTable {
  code_hash: string;
  account_id: string;
  redirect_uri: string;
  code_challenge: string;
  nonce: string;
  expires_at: Date;
}

export interface DevicesTable {
  id: string;
  account_id: string;
  public_key: string;
  name: string;
  os: string;
  version: string;
  ipv4: string;
  ipv6: string;
  created_at: Generated<Date>;
  last_seen_at: Generated<Date>;
}

export interface GatewaysTable {
  id: string;
  site_id: string;
  public_key: string;
  name: string;
  version: string;
  endpoint_host: string;
  endpoint_port: number;
  ipv4: string;
  ipv6: string;
  /** The portal instance holding the gateway's socket, and which socket; null when offline. */
  instance_id: string | null;
  connection_id: string | null;
  last_seen_at: Generated<Date>;
}

/**
 * A live authorization: device may reach resource through gateway until expires_at. No foreign keys on purpose:
 * when a resource, device or gateway disappears, reconciliation still finds the row and sends the revocation.
 */
export interface AuthorizationsTable {
  id: string;
  device_id: string;
  account_id: string;
  resource_id: string;
  gateway_id: string;
  token_id: string;
  expires_at: Date;
  created_at: Generated<Date>;
}

export type AccountRow = Selectable<AccountsTable>;
export type ResourceRow = Selectable<ResourcesTable>;
export type DeviceRow = Selectable<DevicesTable>;
export type GatewayRow = Selectable<GatewaysTable>;
export type AuthorizationRow = Selectable<AuthorizationsTable>;
