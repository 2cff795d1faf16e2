import { sql } from 'kysely';
import type { Kysely, Migration, MigrationProvider } from 'kysely';

/**
 * The schema, one migration per step, applied in name order by kysely's Migrator (which takes a lock, so several
 * portal instances starting at once on one PostgreSQL migrate once). Never edit a released step; add one.
 */
const steps: Record<string, string[]> = {
  '0001_initial': [
    `create table accounts (
       id text primary key,
       email text not null unique,
       kind text not null check (kind in ('user', 'service')),
       password_hash text,
       oidc_subject text unique,
       disabled boolean not null default false,
       created_at timestamptz not null default now())`,
    `create table groups (id text primary key, name text not null unique)`,
    `create table memberships (
       account_id text not null references accounts(id) on delete cascade,
       group_id text not null references groups(id) on delete cascade,
       primary key (account_id, group_id))`,
    `create table sites (id text primary key, name text not null unique)`,
    `create table gateway_tokens (
       id text primary key,
       site_id text not null references sites(id) on delete cascade,
       token_hash text not null unique,
       created_at timestamptz not null default now())`,
    `create table resources (
       id text primary key,
       name text not null unique,
       type text not null check (type in ('dns', 'cidr')),
       address text not null,
       site_id text not null references sites(id),
       filters jsonb not null,
       ip_stack text not null check (ip_stack in ('dual', 'ipv4', 'ipv6')))`,
    `create table policies (
       id text primary key,
       group_id text not null references groups(id) on delete cascade,
       resource_id text not null references resources(id) on delete cascade,
       unique (group_id, resource_id))`,
    `create table settings (key text primary key, value jsonb not null)`,
    `create table client_tokens (
       id text primary key,
       account_id text not null references accounts(id) on delete cascade,
       token_hash text not null unique,
       created_at timestamptz not null default now(),
       expires_at timestamptz not null,
       revoked_at timestamptz)`,
    `create table sign_in_requests (
       id text primary key,
       redirect_uri text not null,
       state text not null,
       nonce text not null,
       code_challenge text not null,
       oidc_state text,
       oidc_nonce text,
       oidc_verifier text,
       expires_at timestamptz not null)`,
    `create table auth_codes (
       code_hash text primary key,
       account_id text not null references accounts(id) on delete cascade,
       redirect_uri text not null,
       code_challenge text not null,
       nonce text not null,
       expires_at timestamptz not null)`,
    // Tunnel addresses of devices and gateways come from one sequence, so they never collide across tables.
    `create sequence tunnel_address_seq start 2`,
    `create table devices (
       id text primary key,
       account_id text not null references accounts(id) on delete cascade,
       public_key text not null unique,
       name text not null,
       os text not null,
       version text not null,
       ipv4 text not null unique,
       ipv6 text not null unique,
       created_at timestamptz not null default now(),
       last_seen_at timestamptz not null default now())`,
    `create table gateways (
       id text primary key,
       site_id text not null references sites(id) on delete cascade,
       public_key text not null,
       name text not null,
       version text not null,
       endpoint_host text not null,
       endpoint_port integer not null,
       ipv4 text not null unique,
       ipv6 text not null unique,
       instance_id text,
       connection_id text,
       last_seen_at timestamptz not null default now(),
       unique (site_id, public_key))`,
    `create table preshared_keys (
       device_id text not null references devices(id) on delete cascade,
       gateway_id text not null references gateways(id) on delete cascade,
       key text not null,
       primary key (device_id, gateway_id))`,
    `create table authorizations (
       id text primary key,
       device_id text not null,
       account_id text not null,
       resource_id text not null,
       gateway_id text not null,
       token_id text not null,
       expires_at timestamptz not null,
       created_at timestamptz not null default now(),
       unique (device_id, resource_id))`,
    `create index authorizations_gateway on authorizations (gateway_id)`,
  ],
};

export const migrations: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    return Object.fromEntries(
      Object.entries(steps).map(([name, statements]) => [
        name,
        {
          async up(db: Kysely<unknown>): Promise<void> {
            for (const statement of statements) await sql.raw(statement).execute(db);
          },
        },
      ]),
    );
  },
};
