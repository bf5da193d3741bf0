import type { Actor } from '../../shared/auth/actor.ts';

/**
 * Who is calling the admin API: a person or a service, from a verified access token for the admin
 * API, or the local operator (someone who could read the data folder on this machine; see
 * local-operator.ts). Never from a body, a query or a header the caller chooses.
 */
export type AdminActor = Actor | { kind: 'local-operator' };

/** How the security log names the actor: a person's id, `client:<id>`, or `local-operator`. */
export function actorLabel(actor: AdminActor): string {
  if (actor.kind === 'user') return actor.sub;
  if (actor.kind === 'service') return `client:${actor.clientId}`;
  return 'local-operator';
}
