import { badRequest } from '../../shared/http/errors.ts';
import { keyState } from '../keys/key-ring.ts';
import { adminRoute, type AnyAdminRoute } from './admin-route.ts';
import { EventQuery, pageOf, Rotation, SecurityEvent, SigningKey } from './admin-schemas.ts';
import { audit, type AdminServices } from './admin-services.ts';

const cursorOf = (id: bigint) => Buffer.from(`e${id}`).toString('base64url');
function idOf(cursor: string): bigint | undefined {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  return /^e\d{1,19}$/.test(text) ? BigInt(text.slice(1)) : undefined;
}

/** Signing keys (list with state, rotate) and the security log (filter, page). */
export function adminLogRoutes(services: AdminServices): AnyAdminRoute[] {
  return [
    adminRoute({
      method: 'get',
      path: '/keys',
      tag: 'Keys',
      summary: 'List signing keys with their state: published, signing, retired, removed',
      access: 'read',
      response: pageOf(SigningKey),
      async handle() {
        const now = new Date();
        const keys = await services.keys.list();
        return {
          items: keys.map((key) => ({
            kid: key.kid,
            purpose: key.purpose,
            alg: key.alg,
            state: keyState(key, now),
            activatesAt: key.activatesAt.toISOString(),
            retiresAt: key.retiresAt?.toISOString() ?? null,
            removesAt: key.removesAt?.toISOString() ?? null,
          })),
          nextCursor: null,
        };
      },
    }),
    adminRoute({
      method: 'post',
      path: '/keys/rotate',
      tag: 'Keys',
      summary: 'Create new keys: published now, signing after the publish lead time',
      access: 'write',
      status: 202,
      response: Rotation,
      async handle({ actor, ctx }) {
        await services.keys.ensureKeys();
        const created = await services.keys.rotate();
        await audit(services, actor, ctx, { type: 'admin.keys_rotated', detail: { created: created.length } });
        return { created, signsFrom: new Date(Date.now() + services.publishLeadSeconds * 1000).toISOString() };
      },
    }),
    adminRoute({
      method: 'get',
      path: '/events',
      tag: 'Security log',
      summary: 'Read the security log, newest first, by type, user, client, address and time',
      access: 'read',
      query: EventQuery,
      response: pageOf(SecurityEvent),
      async handle({ query }) {
        const beforeId = query.cursor ? idOf(query.cursor) : undefined;
        if (query.cursor && beforeId === undefined) throw badRequest('query.cursor is not a cursor this API issued.');
        const rows = await services.events.search({
          type: query.type,
          userId: query.user,
          clientId: query.client,
          ip: query.ip,
          since: query.since ? new Date(query.since) : undefined,
          until: query.until ? new Date(query.until) : undefined,
          beforeId,
          limit: query.limit,
        });
        const page = rows.slice(0, query.limit);
        return {
          items: page.map((event) => ({
            id: String(event.id),
            at: event.at.toISOString(),
            type: event.type,
            userId: event.userId,
            actor: event.actor,
            ip: event.ip,
            detail: (event.detail as Record<string, unknown> | null) ?? null,
          })),
          nextCursor: rows.length > query.limit ? cursorOf(page.at(-1)!.id) : null,
        };
      },
    }),
  ];
}
