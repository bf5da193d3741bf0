import type { ClientType } from '../../shared/database/generated/issuer/client.ts';

import { GRANT_TYPES } from '../../shared/protocol.ts';

const DEVICE_CODE_GRANT = GRANT_TYPES.deviceCode;

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
    optionalGrantTypes: ['refresh_token', 'client_credentials'],
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
    optionalGrantTypes: ['refresh_token'],
    authMethod: 'none',
    confidential: false,
    applicationType: 'native',
    needsRedirect: false,
  },
  service: {
    grantTypes: ['client_credentials'],
    optionalGrantTypes: [],
    authMethod: 'client_secret_basic',
    confidential: true,
    applicationType: 'web',
    needsRedirect: false,
  },
};

/** The OpenID scopes a client of each type gets when no scope is given at creation (and every scope of its APIs). */
export const DEFAULT_SCOPES: Record<ClientType, string[]> = {
  web: ['openid', 'email', 'profile', 'offline_access'],
  spa: ['openid', 'email', 'profile', 'offline_access'],
  cli: ['openid', 'email', 'profile', 'offline_access'],
  service: [],
};
