import { z } from 'zod';

/**
 * Every shape the admin API accepts or returns. Bodies are strict (an unknown field is a 400 that
 * names it); responses are parsed through these schemas, so no column (a password hash, a secret
 * hash, a sealed TOTP secret) reaches a caller unless it is listed here.
 */

export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), requestId: z.string() }),
});

const date = z.iso.datetime();
const profileText = z.string().max(2048).nullable();
export const UserId = z.strictObject({ id: z.uuid() });

export const Profile = z.object({
  name: profileText,
  given_name: profileText,
  family_name: profileText,
  preferred_username: profileText,
  picture: profileText,
  locale: profileText,
  zoneinfo: profileText,
});

export const User = z.object({
  id: z.uuid(),
  email: z.string(),
  emailVerified: z.boolean(),
  disabled: z.boolean(),
  secondFactor: z.boolean(),
  roles: z.array(z.string()),
  profile: Profile,
  createdAt: date,
});

/** A page of a list, newest first; `nextCursor` fetches the next (null: no more). */
export const pageOf = <Item extends z.ZodType>(item: Item) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional().describe('The nextCursor of the previous page'),
};

export const UserListQuery = z.strictObject({
  q: z.string().trim().max(200).optional().describe('Part of an email address or a name'),
  role: z.string().min(1).max(64).optional().describe('Only the holders of this role'),
  ...PageQuery,
});

const email = z.string().trim().max(254);
const roleName = z.string().min(1).max(64);
export const CreateUserBody = z.strictObject({
  email,
  password: z.string().min(1).max(1024),
  /** The roles the account holds; absent: the default roles. */
  roles: z.array(roleName).max(50).optional(),
  emailVerified: z.boolean().default(false),
});

/** Profile fields to change: an empty string clears one; the profile rules check each. */
export const UpdateProfileBody = z
  .strictObject({
    name: z.string().max(4096),
    given_name: z.string().max(4096),
    family_name: z.string().max(4096),
    preferred_username: z.string().max(4096),
    picture: z.string().max(4096),
    locale: z.string().max(4096),
    zoneinfo: z.string().max(4096),
  })
  .partial()
  .refine((body) => Object.keys(body).length > 0, 'name at least one field to change');

export const DeleteUserQuery = z.strictObject({
  confirm: z.string().max(254).describe('The account’s email address, typed again: nothing of it can be restored'),
});

export const RolesBody = z.strictObject({ roles: z.array(roleName).min(1).max(50) });
export const RoleHeld = z.object({ roles: z.array(z.string()) });
export const UserRoleParams = z.strictObject({ id: z.uuid(), role: roleName });

export const Session = z.object({
  handle: z.string(),
  device: z.string(),
  signedInAt: date.nullable(),
  lastSeenAt: date.nullable(),
});
export const SessionParams = z.strictObject({ id: z.uuid(), handle: z.string().min(1).max(128) });
export const Passkey = z.object({
  id: z.uuid(),
  name: z.string(),
  deviceType: z.string().describe('singleDevice, or multiDevice for a synced passkey'),
  backedUp: z.boolean(),
  createdAt: date,
  lastUsedAt: date.nullable(),
});
export const PasskeyParams = z.strictObject({ id: z.uuid(), passkeyId: z.uuid() });
export const Grant = z.object({ grantId: z.string(), clientId: z.string(), scopes: z.array(z.string()) });
export const GrantParams = z.strictObject({ id: z.uuid(), grantId: z.string().min(1).max(128) });

export const ClientType = z.enum(['web', 'spa', 'cli', 'service']);
const uri = z.string().max(2048);
const link = uri.nullable();
export const Client = z.object({
  id: z.string(),
  name: z.string(),
  type: ClientType,
  redirectUris: z.array(z.string()),
  postLogoutRedirectUris: z.array(z.string()),
  grantTypes: z.array(z.string()),
  tokenExchangeSubjectTypes: z.array(z.string()),
  scopes: z.array(z.string()),
  resources: z.array(z.string()),
  defaultResource: z.string().nullable(),
  firstParty: z.boolean(),
  pkceRequired: z.boolean(),
  tokenEndpointAuthMethod: z.string(),
  accessTokenTtlSeconds: z.number().int().nullable(),
  logoUri: link,
  clientUri: link,
  policyUri: link,
  tosUri: link,
  roles: z.array(z.string()),
  createdAt: date,
});
/** A new client, with its secret: shown once, never again (only a hash is kept). */
export const CreatedClient = Client.extend({ clientSecret: z.string().optional() });
export const ClientSecret = z.object({ clientId: z.string(), clientSecret: z.string() });
export const ClientId = z.strictObject({ id: z.string().min(1).max(64) });
export const ClientRoleParams = z.strictObject({ id: z.string().min(1).max(64), role: roleName });

const clientFields = {
  name: z.string().max(200),
  redirectUris: z.array(uri).max(50),
  postLogoutRedirectUris: z.array(uri).max(50),
  grantTypes: z.array(z.string().max(100)).max(10),
  /** Token types it may exchange (RFC 8693), with the token-exchange grant. */
  tokenExchangeSubjectTypes: z.array(z.string().max(200)).max(5),
  scopes: z.array(z.string().max(128)).max(200),
  resources: z.array(uri).max(50),
  defaultResource: uri.nullable(),
  firstParty: z.boolean(),
  pkceRequired: z.boolean(),
  accessTokenTtlSeconds: z.number().int().nullable(),
  logoUri: link,
  clientUri: link,
  policyUri: link,
  tosUri: link,
};
export const CreateClientBody = z
  .strictObject({
    ...clientFields,
    type: ClientType,
  })
  .partial()
  .required({ name: true, type: true });
export const UpdateClientBody = z
  .strictObject(clientFields)
  .partial()
  .refine((body) => Object.keys(body).length > 0, 'name at least one field to change');

const scope = z.object({ name: z.string(), description: z.string() });
export const Api = z.object({
  id: z.uuid(),
  identifier: z.string(),
  name: z.string(),
  accessTokenTtlSeconds: z.number().int().nullable(),
  roleLimited: z.boolean(),
  dpopRequired: z.boolean(),
  scopes: z.array(scope),
  createdAt: date,
});
export const ApiId = z.strictObject({ id: z.uuid() });
export const ApiListQuery = z.strictObject({
  identifier: uri.optional().describe('Only the API with this identifier'),
});
const scopeInput = z.strictObject({ name: z.string().max(200), description: z.string().max(500) });
export const CreateApiBody = z.strictObject({
  identifier: uri,
  name: z.string().max(200),
  accessTokenTtlSeconds: z.number().int().nullable().optional(),
  roleLimited: z.boolean().optional(),
  dpopRequired: z.boolean().optional(),
  scopes: z.array(scopeInput).max(200).optional(),
});
export const UpdateApiBody = z
  .strictObject({
    name: z.string().max(200),
    accessTokenTtlSeconds: z.number().int().nullable(),
    roleLimited: z.boolean(),
    dpopRequired: z.boolean(),
  })
  .partial()
  .refine((body) => Object.keys(body).length > 0, 'name at least one field to change');
export const ScopesBody = z.strictObject({ scopes: z.array(scopeInput).min(1).max(200) });
export const ApiScopeParams = z.strictObject({ id: z.uuid(), name: z.string().min(1).max(200) });

export const Role = z.object({
  name: z.string(),
  description: z.string(),
  default: z.boolean(),
  permissions: z.array(z.object({ api: z.string(), scope: z.string() })),
  users: z.number().int(),
  clients: z.number().int(),
  createdAt: date,
});
export const RoleName = z.strictObject({ name: roleName });
export const CreateRoleBody = z.strictObject({
  name: roleName,
  description: z.string().max(500).optional(),
  default: z.boolean().optional(),
});
export const UpdateRoleBody = z
  .strictObject({ name: roleName, description: z.string().max(500), default: z.boolean() })
  .partial()
  .refine((body) => Object.keys(body).length > 0, 'name at least one field to change');
export const PermissionsBody = z.strictObject({ api: uri, scopes: z.array(z.string().max(200)).min(1).max(200) });

export const SigningKey = z.object({
  kid: z.string(),
  purpose: z.string(),
  alg: z.string(),
  state: z.enum(['published', 'signing', 'retired', 'removed']),
  activatesAt: date,
  retiresAt: date.nullable(),
  removesAt: date.nullable(),
});
export const Rotation = z.object({ created: z.array(z.string()), signsFrom: date });

export const SecurityEvent = z.object({
  id: z.string(),
  at: date,
  type: z.string(),
  userId: z.string().nullable(),
  actor: z.string(),
  ip: z.string().nullable(),
  detail: z.record(z.string(), z.unknown()).nullable(),
});
export const EventQuery = z.strictObject({
  type: z.string().max(100).optional().describe('Only events of this type (sign_in.failed...)'),
  user: z.uuid().optional().describe('Only events about this account'),
  client: z.string().max(64).optional().describe('Only events naming this client'),
  ip: z.union([z.ipv4(), z.ipv6()]).optional().describe('Only events from this address'),
  since: z.iso.datetime().optional(),
  until: z.iso.datetime().optional(),
  ...PageQuery,
});

export const ApiKey = z.object({
  id: z.uuid(),
  kind: z.enum(['personal', 'service']),
  prefix: z.string().describe('The kind and first characters: enough to recognise the key, never to use it'),
  name: z.string(),
  userId: z.uuid().nullable(),
  clientId: z.string().nullable(),
  permissions: z.array(z.string()).describe('`<API identifier> <scope>` each'),
  expiresAt: date,
  lastUsedAt: date.nullable(),
  lastUsedIp: z.string().nullable(),
  revokedAt: date.nullable(),
  createdAt: date,
});
/** A new key: its text is in this answer only. */
export const CreatedApiKey = ApiKey.extend({ key: z.string() });
export const ApiKeyId = z.strictObject({ id: z.uuid() });
export const ApiKeyListQuery = z.strictObject({
  userId: z.uuid().optional().describe("Only this person's keys"),
  clientId: z.string().max(64).optional().describe("Only this service client's keys"),
  ...PageQuery,
});
export const CreateApiKeyBody = z.strictObject({
  name: z.string().min(1).max(100),
  permissions: z.array(z.string().max(2200)).min(1).max(100),
  expiresInDays: z.number().int().min(1).max(365).optional().describe('Default 90'),
});
export const LeakedKeyBody = z.strictObject({ key: z.string().min(1).max(100) });
