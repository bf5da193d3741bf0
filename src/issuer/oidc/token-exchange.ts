import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { JWTPayload } from 'jose';
import type { SecurityEvent } from '../../accounts/security-events.ts';
import { GRANT_TYPES, TOKEN_TYPES } from '../../shared/protocol.ts';
import { splitPermission, type KeyCheck } from '../api-keys/api-keys.ts';
import { requestedScopes } from './first-party-grant.ts';
import { exchangeSubjects } from './resource-servers.ts';

/** What the token-exchange grant needs beyond the provider. */
export interface TokenExchangeDependencies {
  /** A personal access token's owner and what it may do now (its permissions ∩ its owner's). */
  personalKey: (presented: string, ip: string) => Promise<KeyCheck>;
  /** A JWT access token this issuer signed, still valid (any of our APIs' audiences); undefined otherwise. */
  verifyAccessToken: (token: string) => Promise<JWTPayload | undefined>;
  /** Whether a person's account exists and may sign in. */
  accountActive: (id: string) => Promise<boolean>;
  /** Whether any client may use the grant: discovery advertises it only then. */
  anyClientExchanges: () => Promise<boolean>;
  record: (event: SecurityEvent) => Promise<unknown>;
}

/** RFC 8693 §4.1: who acted, and for a chain, who they acted for (the earlier `act`, nested). */
export interface ActClaim {
  sub: string;
  client_id: string;
  act?: ActClaim;
}

interface ClientExchangeSettings {
  token_exchange_subject_types?: string[];
  allowed_resources?: string[];
  default_resource?: string;
}

/** The `act` claim of the token being issued in this request, read by the access-token claims. */
const actClaims = new WeakMap<object, ActClaim>();
export const exchangedActClaim = (ctx: KoaContextWithOIDC): { act?: ActClaim } => {
  const act = actClaims.get(ctx);
  return act ? { act } : {};
};

const PARAMETERS = [
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
  'resource',
  'audience',
  'scope',
];

/** A parameter given once as a non-empty string, or undefined. */
function parameter(ctx: KoaContextWithOIDC, name: string): string | undefined {
  const value = (ctx.oidc.params as Record<string, unknown>)[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function asActClaim(value: unknown): ActClaim | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const { sub, client_id: clientId, act } = value as Record<string, unknown>;
  if (typeof sub !== 'string' || typeof clientId !== 'string') return undefined;
  const nested = act === undefined ? undefined : asActClaim(act);
  if (act !== undefined && !nested) return undefined;
  return { sub, client_id: clientId, ...(nested ? { act: nested } : {}) };
}

/** The one API this exchange issues a token for: the `resource` (or `audience`) asked, or the client's default. */
function targetOf(ctx: KoaContextWithOIDC, settings: ClientExchangeSettings): string {
  const allowed = settings.allowed_resources ?? [];
  const resource = ctx.oidc.params?.resource;
  if (Array.isArray(resource)) throw new errors.InvalidTarget('only one resource may be asked for');
  const asked = parameter(ctx, 'resource') ?? parameter(ctx, 'audience');
  const target = asked ?? settings.default_resource ?? (allowed.length === 1 ? allowed[0] : undefined);
  if (!target) throw new errors.InvalidTarget('name the API the token is for in `resource`');
  return target;
}

/**
 * OAuth 2.0 Token Exchange (RFC 8693) at the token endpoint, for two uses:
 * - a person's key (`lk_pat_`, subject token type `urn:latchkey:params:oauth:token-type:personal_access_token`)
 *   becomes a short-lived JWT access token for one API, with at most the key's permissions that its
 *   owner still holds: scripts keep a key, APIs see only the JWTs they already verify;
 * - delegation: a service holding a person's access token (the subject token) and its own (the actor
 *   token) gets a token for another API that says, in `act`, which service acts for the person, with
 *   no scope the subject token did not have. A chain nests the earlier `act`.
 * No refresh token is issued. A client uses the grant only when it has it, and only with the subject
 * token types it was given; the API must be one of the client's and the scopes its registered ones,
 * and a role-limited API's scopes are cut to the person's roles, as for every other grant.
 */
export function installTokenExchange(
  provider: Provider,
  deps: TokenExchangeDependencies,
  resourceServerInfo: (ctx: KoaContextWithOIDC, resource: string, client: unknown) => Promise<ResourceServer>,
): void {
  provider.registerGrantType(
    GRANT_TYPES.tokenExchange,
    async (ctx: KoaContextWithOIDC) => {
      const client = ctx.oidc.client!;
      const settings = client as unknown as ClientExchangeSettings;
      const subjectToken = parameter(ctx, 'subject_token');
      const subjectType = parameter(ctx, 'subject_token_type');
      if (!subjectToken || !subjectType)
        throw new errors.InvalidRequest('subject_token and subject_token_type are required');
      const requested = parameter(ctx, 'requested_token_type');
      if (requested && requested !== TOKEN_TYPES.accessToken)
        throw new errors.InvalidRequest(`only ${TOKEN_TYPES.accessToken} can be issued`);
      if (!(settings.token_exchange_subject_types ?? []).includes(subjectType))
        throw new errors.UnauthorizedClient(`this client may not exchange tokens of type ${subjectType}`);
      // Sender-constrained tokens come from the grants that bind them; an exchanged token is a bearer token.
      if (ctx.get('DPoP')) throw new errors.InvalidRequest('token exchange issues bearer tokens only, without DPoP');
      const target = targetOf(ctx, settings);
      /**
       * Refused with invalid_grant. A refusal that concerns someone (a revoked or expired key, a
       * disabled person, a forged actor) is a security event; a token that is no token of ours at all
       * (a bad checksum, an unknown key) is not written anywhere: a flood of made-up keys costs no writes.
       */
      const refuse = async (
        reason: string,
        description: string,
        about: { userId?: string; keyId?: string } | undefined,
      ): Promise<never> => {
        if (about)
          await deps.record({
            type: 'token_exchange.refused',
            userId: about.userId,
            actor: `client:${client.clientId}`,
            ip: ctx.ip,
            detail: {
              clientId: client.clientId,
              subjectTokenType: subjectType,
              resource: target,
              reason,
              ...(about.keyId ? { keyId: about.keyId } : {}),
            },
          });
        throw new errors.InvalidGrant(description);
      };

      // Who the token is for, and what the subject token allows at most (by scope name, for this API).
      let userId: string;
      let allows: (scope: string) => boolean;
      let act: ActClaim | undefined;
      let keyId: string | undefined;
      if (subjectType === TOKEN_TYPES.personalAccessToken) {
        if (parameter(ctx, 'actor_token'))
          throw new errors.InvalidRequest('a personal access token is exchanged alone');
        const check = await deps.personalKey(subjectToken, ctx.ip);
        if (!check.ok)
          return refuse(
            check.reason,
            check.reason === 'no_permissions'
              ? "the key's owner no longer holds any of its permissions"
              : 'the personal access token is not valid, or was revoked, or has expired',
            check.key ? { userId: check.key.userId ?? undefined, keyId: check.key.id } : undefined,
          );
        userId = (check.owner as { userId: string }).userId;
        keyId = check.key.id;
        const scopes = new Set(
          [...check.permissions]
            .map(splitPermission)
            .filter((p) => p.api === target)
            .map((p) => p.scope),
        );
        allows = (scope) => scopes.has(scope);
      } else if (subjectType === TOKEN_TYPES.accessToken) {
        const subject = await deps.verifyAccessToken(subjectToken);
        if (!subject)
          return refuse('invalid_subject_token', 'the subject token is not a valid access token', undefined);
        const sub = String(subject.sub);
        if (sub.startsWith('client:')) return refuse('service_subject', "a service's token cannot be a subject", {});
        const actorToken = parameter(ctx, 'actor_token');
        if (!actorToken || parameter(ctx, 'actor_token_type') !== TOKEN_TYPES.accessToken)
          throw new errors.InvalidRequest(
            `delegation needs the acting client's own access token as actor_token (actor_token_type ${TOKEN_TYPES.accessToken})`,
          );
        const actor = await deps.verifyAccessToken(actorToken);
        // The actor token must be the calling client's own: no client acts under another's name.
        if (!actor || actor.client_id !== client.clientId || actor.sub !== `client:${client.clientId}`)
          return refuse('invalid_actor_token', 'the actor token is not a valid access token of the calling client', {
            userId: sub,
          });
        if (!(await deps.accountActive(sub)))
          return refuse('account_disabled', 'the subject is not an active account', { userId: sub });
        const earlier = subject.act === undefined ? undefined : asActClaim(subject.act);
        if (subject.act !== undefined && !earlier)
          return refuse('invalid_act', 'the subject token has a malformed act claim', { userId: sub });
        userId = sub;
        act = { sub: actor.sub, client_id: client.clientId, ...(earlier ? { act: earlier } : {}) };
        const scopes = new Set(typeof subject.scope === 'string' ? subject.scope.split(' ') : []);
        allows = (scope) => scopes.has(scope);
      } else {
        throw new errors.InvalidRequest(`subject_token_type ${subjectType} is not supported`);
      }

      // The API as this client may use it for this person (client's APIs and scopes, roles, TTL).
      exchangeSubjects.set(ctx, { userId });
      const server = await resourceServerInfo(ctx, target, client);
      const registered = server.scope?.split(' ').filter(Boolean) ?? [];
      const asked = requestedScopes(ctx);
      const candidates = asked.length ? asked.filter((scope) => registered.includes(scope)) : registered;
      const scopes = candidates.filter(allows);
      if (scopes.length === 0)
        throw new errors.InvalidScope(
          'none of the asked scopes can be granted from this subject token',
          asked.join(' '),
        );

      const token = new provider.AccessToken({
        accountId: userId,
        client,
        gty: GRANT_TYPES.tokenExchange,
        scope: scopes.join(' '),
      } as ConstructorParameters<typeof provider.AccessToken>[0]);
      token.resourceServer = new provider.ResourceServer(target, server);
      if (act) actClaims.set(ctx, act);
      ctx.oidc.entity('AccessToken', token);
      const value = await token.save();
      await deps.record({
        type: 'token_exchange.succeeded',
        userId,
        actor: `client:${client.clientId}`,
        ip: ctx.ip,
        detail: {
          clientId: client.clientId,
          subjectTokenType: subjectType,
          resource: target,
          scope: scopes.join(' '),
          ...(keyId ? { keyId } : {}),
          ...(act ? { actingClientId: act.client_id } : {}),
        },
      });
      // RFC 8693 §2.2.1; no refresh token: the subject token is what the client keeps.
      ctx.body = {
        access_token: value,
        issued_token_type: TOKEN_TYPES.accessToken,
        token_type: token.tokenType,
        expires_in: token.expiration,
        scope: scopes.join(' '),
      };
    },
    PARAMETERS,
  );

  // Discovery names the grant only while some client may use it (an issuer without it looks as before).
  provider.use(async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    await next();
    const body = ctx.body as { grant_types_supported?: string[] } | undefined;
    if (ctx.oidc?.route !== 'discovery' || ctx.status !== 200 || !body?.grant_types_supported) return;
    // Discovery never fails for this: with the database away, the grant stays listed (harmless; a client
    // without it is refused at the token endpoint all the same).
    if (!(await deps.anyClientExchanges().catch(() => true)))
      body.grant_types_supported = body.grant_types_supported.filter((grant) => grant !== GRANT_TYPES.tokenExchange);
  });
}
