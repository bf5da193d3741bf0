import type Provider from 'oidc-provider';
import type { WayForward } from '../../shared/http/errors.ts';
import { WAY_TO_ACCOUNT } from '../http/page-errors.ts';

/**
 * Where a person goes after a flow that left the sign-in page (sign-up, password reset): back into
 * the application that sent them. The sign-in page's links carry the client's id and the
 * interaction's uid; the mailed link remembers the client id, since it may be opened much later or
 * in another browser, where only the application's home page (its `client_uri`) leads back.
 */
export interface Origin {
  clientId?: string | undefined;
  /** The sign-in this browser left, to return to while it lasts. */
  interaction?: string | undefined;
}

const CLIENT_ID = /^[\w.:-]{1,200}$/;
const INTERACTION_UID = /^[\w-]{1,64}$/;

/** The origin in a query string or a form; anything malformed is dropped, never echoed. */
export function originFrom(fields: { get(name: string): string | null | undefined }): Origin {
  const clientId = fields.get('client') ?? undefined;
  const interaction = fields.get('interaction') ?? undefined;
  return {
    clientId: clientId && CLIENT_ID.test(clientId) ? clientId : undefined,
    interaction: interaction && INTERACTION_UID.test(interaction) ? interaction : undefined,
  };
}

/** The query string that carries an origin on to the next page. */
export function originQuery(origin: Origin): string {
  const query = new URLSearchParams();
  if (origin.clientId) query.set('client', origin.clientId);
  if (origin.interaction) query.set('interaction', origin.interaction);
  const text = query.toString();
  return text ? `?${text}` : '';
}

/** "Back to sign in": the sign-in this browser left, or the account's own sign-in. */
export function backToSignIn(origin: Origin): WayForward {
  return origin.interaction
    ? { href: `/interaction/${origin.interaction}`, text: 'Back to sign in' }
    : { href: '/account', text: 'Back to sign in' };
}

/** Onward to the application the flow started from, when it has a home page; to the account otherwise. */
export async function wayBack(provider: () => Provider, clientId: string | undefined): Promise<WayForward> {
  const client = clientId ? await provider().Client.find(clientId) : undefined;
  const home = (client as { clientUri?: string } | undefined)?.clientUri;
  if (client && home) return { href: home, text: `Continue to ${client.clientName ?? 'the application'}` };
  return { ...WAY_TO_ACCOUNT, text: 'Go to your account' };
}
