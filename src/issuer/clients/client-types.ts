import type { ClientType } from '../../shared/database/generated/issuer/client.ts';

import { GRANT_TYPES, TOKEN_TYPES } from '../../shared/protocol.ts';

const DEVICE_CODE_GRANT = GRANT_TYPES.deviceCode;
const TOKEN_EXCHANGE_GRANT = GRANT_TYPES.tokenExchange;

/**
 * What each kind of client is allowed, by construction. A browser app never holds a secret, a
 * service never sends a user through the authorization endpoint, a CLI signs in through the device
 * grant.
 */
export const CLIENT_TYPES: Record<
  ClientType,
  {
    /** The grants a new client of the type gets. */
    grantTypes: string[];
    /** Grants an operator may add or take away (`--grant-type`); the others are the type itself. */
    optionalGrantTypes: string[];
    authMethod: string;
    confidential: boolean;
    applicationType: 'web' | 'native';
    needsRedirect: boolean;
  }
> = {
  web: {
    grantTypes: ['authorization_code', 'refresh_token'],
    // A web app's back end may also call APIs as itself.
    optionalGrantTypes: ['refresh_token', 'client_credentials', TOKEN_EXCHANGE_GRANT],
    authMethod: 'client_secret_basic',
    confidential: true,
    applicationType: 'web',
    needsRedirect: true,
  },
  spa: {
    grantTypes: ['authorization_code', 'refresh_token'],
    optionalGrantTypes: ['refresh_token'],
    authMethod: 'none',
    confidential: false,
    applicationType: 'web',
    needsRedirect: true,
  },
  cli: {
    grantTypes: [DEVICE_CODE_GRANT, 'refresh_token'],
    // A command-line tool may also trade a person's key for tokens (RFC 8693).
    optionalGrantTypes: ['refresh_token', TOKEN_EXCHANGE_GRANT],
    authMethod: 'none',
    confidential: false,
    applicationType: 'native',
    needsRedirect: false,
  },
  service: {
    grantTypes: ['client_credentials'],
    // A service may act for a person whose token it holds (RFC 8693 delegation).
    optionalGrantTypes: [TOKEN_EXCHANGE_GRANT],
    authMethod: 'client_secret_basic',
    confidential: true,
    applicationType: 'web',
    needsRedirect: false,
  },
};

/**
 * What each subject token type of the token-exchange grant asks of a client: a person's key is
 * traded by whoever holds it (a script, a CLI); a person's access token only by a confidential client
 * that proves, with its own token, who is acting.
 */
export const EXCHANGEABLE_TOKEN_TYPES: Record<string, { confidentialOnly: boolean }> = {
  [TOKEN_TYPES.personalAccessToken]: { confidentialOnly: false },
  [TOKEN_TYPES.accessToken]: { confidentialOnly: true },
};

/** The OpenID scopes a client of each type gets when no scope is given at creation (and every scope of its APIs). */
export const DEFAULT_SCOPES: Record<ClientType, string[]> = {
  web: ['openid', 'email', 'profile', 'offline_access'],
  spa: ['openid', 'email', 'profile', 'offline_access'],
  cli: ['openid', 'email', 'profile', 'offline_access'],
  service: [],
};
